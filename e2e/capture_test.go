package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// capture is a running tcpdump writing loopback traffic to a pcap file.
type capture struct {
	file   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
}

// startCapture starts tcpdump on lo with a BPF filter and returns once
// tcpdump says it is listening, so no packet of the test is missed.
func startCapture(t *testing.T, filter string) *capture {
	t.Helper()
	requireTools(t, "tcpdump", "tshark")
	c := &capture{
		file:   filepath.Join(t.TempDir(), "lo.pcap"),
		stderr: &syncBuffer{},
		exited: make(chan struct{}),
	}
	// -U writes each packet as it arrives, so the file is complete at SIGINT.
	c.cmd = exec.Command("tcpdump", "-i", "lo", "-n", "-U", "-w", c.file, filter)
	errPipe, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting tcpdump: %v", err)
	}
	listening := make(chan struct{})
	go func() {
		defer close(c.exited)
		sc := bufio.NewScanner(errPipe)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = c.stderr.Write([]byte(line + "\n"))
			if !signalled && strings.Contains(line, "listening on") {
				close(listening)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, errPipe)
		_ = c.cmd.Wait()
	}()
	t.Cleanup(func() { c.stop(t) })
	select {
	case <-listening:
	case <-c.exited:
		t.Fatalf("tcpdump exited before listening: %s", c.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("tcpdump not listening after 10s: %s", c.stderr.String())
	}
	return c
}

// stop ends the capture (SIGINT flushes the file) and waits for tcpdump.
func (c *capture) stop(t *testing.T) {
	t.Helper()
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		t.Errorf("tcpdump ignored SIGINT for 10s")
	}
}

// rtpFlow is the RTP seen from one UDP source port to one destination port.
type rtpFlow struct {
	SrcPort, DstPort int
	Packets          int
	ByType           map[int]int // packets per RTP payload type
	SSRCs            map[string]bool
}

func (f *rtpFlow) String() string {
	types := make([]string, 0, len(f.ByType))
	for pt, n := range f.ByType {
		types = append(types, fmt.Sprintf("PT%d:%d", pt, n))
	}
	sort.Strings(types)
	return fmt.Sprintf("%d->%d %d packets [%s] %d SSRC", f.SrcPort, f.DstPort, f.Packets, strings.Join(types, " "), len(f.SSRCs))
}

// rtpFlows decodes every UDP packet of the capture as RTP (the capture
// filter lets only media ports through) and groups them by port pair.
func rtpFlows(t *testing.T, c *capture) map[[2]int]*rtpFlow {
	t.Helper()
	out, err := exec.Command("tshark", "-r", c.file, "-n",
		"-d", "udp.port==1-65535,rtp",
		"-Y", "rtp",
		"-T", "fields", "-E", "separator=,",
		"-e", "udp.srcport", "-e", "udp.dstport", "-e", "rtp.p_type", "-e", "rtp.ssrc").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	flows := map[[2]int]*rtpFlow{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ",")
		if len(f) != 4 {
			continue
		}
		src, err1 := strconv.Atoi(f[0])
		dst, err2 := strconv.Atoi(f[1])
		pt, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		key := [2]int{src, dst}
		fl := flows[key]
		if fl == nil {
			fl = &rtpFlow{SrcPort: src, DstPort: dst, ByType: map[int]int{}, SSRCs: map[string]bool{}}
			flows[key] = fl
		}
		fl.Packets++
		fl.ByType[pt]++
		fl.SSRCs[f[3]] = true
	}
	return flows
}

// rtpStreamsReport is tshark's own RTP stream statistics, for the test log.
func rtpStreamsReport(c *capture) string {
	out, err := exec.Command("tshark", "-r", c.file, "-n", "-d", "udp.port==1-65535,rtp", "-q", "-z", "rtp,streams").Output()
	if err != nil {
		return fmt.Sprintf("tshark -z rtp,streams: %v", err)
	}
	return string(out)
}
