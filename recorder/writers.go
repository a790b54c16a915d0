package recorder

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// drainEvery is how often a writer takes its recordings' queued packets:
// 100 ms is 5 packets a channel, far inside the queue's 1.3 s, and batches
// the work.
const drainEvery = 100 * time.Millisecond

// writer is one shard of the goroutines that empty recorders' queues onto
// disk. Every drainEvery it services each of its recordings in turn: take
// the queued packets, place and write them, flush the file when due.
//
// Sharing a writer keeps the cost of waking per tick, not per recording: 300
// recorded calls with a goroutine and two tickers each woke the scheduler
// 3,300 times a second to do a few microseconds of work each time. The
// price is that recordings on one shard share its time, so a disk that
// stalls one file delays the others on that shard too; their queues ride it
// out for over a second and then drop (counted); the relay is never delayed.
type writer struct {
	mu      sync.Mutex
	recs    []*Recorder
	running bool

	// batch is run's copy of recs for one sweep, so add and remove (call
	// setup and teardown) never wait for a sweep's disk writes.
	batch []*Recorder
}

// writers shard recordings so a many-core machine writes in parallel; a
// recording stays on its shard for its life.
var (
	writers     []*writer
	writersOnce sync.Once
	writerNext  atomic.Uint32
)

// writerFor picks the shard for a new recording.
func writerFor() *writer {
	writersOnce.Do(func() {
		writers = make([]*writer, max(1, runtime.GOMAXPROCS(0)/2))
		for i := range writers {
			writers[i] = &writer{}
		}
	})
	return writers[int(writerNext.Add(1))%len(writers)]
}

// add starts servicing r; the shard's goroutine starts with its first
// recording.
func (w *writer) add(r *Recorder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.recs = append(w.recs, r)
	if !w.running {
		w.running = true
		go w.run()
	}
}

// remove stops servicing r. A sweep in progress may still service it once;
// Recorder.Stop serialises with that through the recorder's own lock.
func (w *writer) remove(r *Recorder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, x := range w.recs {
		if x == r {
			last := len(w.recs) - 1
			w.recs[i] = w.recs[last]
			w.recs[last] = nil
			w.recs = w.recs[:last]
			return
		}
	}
}

// run sweeps the shard's recordings every drainEvery until none is left.
func (w *writer) run() {
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for range tick.C {
		w.mu.Lock()
		if len(w.recs) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.batch = append(w.batch[:0], w.recs...)
		w.mu.Unlock()
		for _, r := range w.batch {
			r.service()
		}
		clear(w.batch) // no stopped recording stays reachable from here
	}
}
