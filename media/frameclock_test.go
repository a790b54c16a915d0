package media

import (
	"errors"
	"testing"
	"time"
)

func TestFrameClocks(t *testing.T) {
	for name, mk := range map[string]func() frameClock{
		"best":   func() frameClock { return newFrameClock(FrameDuration) },
		"ticker": func() frameClock { return newTickerClock(FrameDuration) },
	} {
		t.Run(name, func(t *testing.T) {
			c := mk()
			start := time.Now()
			var total uint64
			for total < 10 {
				n, err := c.wait()
				if err != nil {
					t.Fatal(err)
				}
				total += n
			}
			// Ten ticks of 20 ms (the first may come at once).
			if el := time.Since(start); el < 160*time.Millisecond || el > 2*time.Second {
				t.Fatalf("10 ticks took %v", el)
			}
			// A late reader is told how many ticks it missed.
			time.Sleep(5 * FrameDuration) // deliberately late: the clock must count what passed
			n, err := c.wait()
			if err != nil {
				t.Fatal(err)
			}
			if n < 4 {
				t.Fatalf("after 100 ms asleep wait returned %d ticks, want >= 4", n)
			}
			done := make(chan error, 1)
			go func() {
				for {
					if _, err := c.wait(); err != nil {
						done <- err
						return
					}
				}
			}()
			c.close()
			select {
			case err := <-done:
				if !errors.Is(err, errClockClosed) {
					t.Fatalf("wait after close = %v, want errClockClosed", err)
				}
			case <-time.After(recvTimeout):
				t.Fatal("close did not wake wait")
			}
		})
	}
}
