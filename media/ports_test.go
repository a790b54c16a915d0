package media

import (
	"errors"
	"sync"
	"testing"
)

func TestNewPortPoolRange(t *testing.T) {
	tests := []struct {
		name     string
		min, max int
		wantSize int
		wantErr  bool
	}{
		{"even bounds", 10000, 10010, 5, false}, // 10000..10008; 10010 has no 10011
		{"odd min rounds up", 10001, 10011, 5, false},
		{"odd max", 10000, 10009, 5, false},
		{"single pair", 20000, 20001, 1, false},
		{"no pair", 20000, 20000, 0, true},
		{"odd single", 20001, 20002, 0, true},
		{"reversed", 20010, 20000, 0, true},
		{"zero min", 0, 100, 0, true},
		{"beyond 65535", 65000, 70000, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPortPool(tt.min, tt.max)
			if tt.wantErr {
				if !errors.Is(err, ErrPortRange) {
					t.Fatalf("err = %v, want ErrPortRange", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Size() != tt.wantSize || p.Available() != tt.wantSize {
				t.Fatalf("size %d available %d, want %d", p.Size(), p.Available(), tt.wantSize)
			}
		})
	}
}

func TestPortPoolEvenPortsAndExhaustion(t *testing.T) {
	p, err := NewPortPool(10001, 10011)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for range p.Size() {
		port, err := p.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		if port%2 != 0 || port < 10002 || port+1 > 10011 {
			t.Fatalf("port %d: not an even port with RTCP inside [10001, 10011]", port)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
	}
	if _, err := p.Acquire(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("exhausted Acquire err = %v, want ErrNoPorts", err)
	}
	if p.Available() != 0 {
		t.Fatalf("Available = %d, want 0", p.Available())
	}
}

func TestPortPoolRoundRobinReuse(t *testing.T) {
	p, err := NewPortPool(30000, 30007) // 30000, 30002, 30004, 30006
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Acquire()
	b, _ := p.Acquire()
	p.Release(a)
	// The just-freed port goes to the back: the untouched ones come first.
	want := []int{30004, 30006, a}
	for _, w := range want {
		got, err := p.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Fatalf("Acquire = %d, want %d", got, w)
		}
	}
	p.Release(b)
	if got, _ := p.Acquire(); got != b {
		t.Fatalf("reuse = %d, want %d", got, b)
	}
}

func TestPortPoolReleaseIsIdempotent(t *testing.T) {
	p, err := NewPortPool(30000, 30003) // 30000, 30002
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Acquire()
	p.Release(a)
	p.Release(a)     // double release
	p.Release(30001) // odd: not a pool port
	p.Release(29998) // below range
	p.Release(30004) // above range
	if got := p.Available(); got != 2 {
		t.Fatalf("Available = %d, want 2", got)
	}
	x, _ := p.Acquire()
	y, _ := p.Acquire()
	if x == y {
		t.Fatalf("same port %d handed out twice after double release", x)
	}
	if _, err := p.Acquire(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("err = %v, want ErrNoPorts", err)
	}
}

func TestPortPoolConcurrent(t *testing.T) {
	p, err := NewPortPool(40000, 40199) // 100 pairs
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 200
	var mu sync.Mutex
	held := map[int]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range rounds {
				port, err := p.Acquire()
				if errors.Is(err, ErrNoPorts) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				dup := held[port]
				held[port] = true
				mu.Unlock()
				if dup {
					errs <- errors.New("port handed out while held")
					return
				}
				mu.Lock()
				delete(held, port)
				mu.Unlock()
				p.Release(port)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := p.Available(); got != p.Size() {
		t.Fatalf("Available = %d after all releases, want %d", got, p.Size())
	}
}
