package exportertest

import (
	"bytes"
	"sync"
)

// output keeps what a process writes to stdout and stderr, line by line, in
// memory: the process never waits for the test to read, and a test can wait
// for a line without polling.
type output struct {
	mu      sync.Mutex
	lines   []string
	partial []byte        // the start of a line whose newline has not come yet
	grew    chan struct{} // closed, and replaced, whenever lines are added
}

func newOutput() *output { return &output{grew: make(chan struct{})} }

// Write takes a piece of the output. os/exec calls it from one goroutine at
// a time when stdout and stderr are the same writer.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	n := len(o.lines)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.lines = append(o.lines, string(o.partial[:i]))
		o.partial = o.partial[i+1:]
	}
	if len(o.lines) > n {
		o.notify()
	}
	return len(p), nil
}

// end keeps a last line that has no newline; the process has exited.
func (o *output) end() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.lines = append(o.lines, string(o.partial))
		o.partial = nil
		o.notify()
	}
}

func (o *output) notify() {
	close(o.grew)
	o.grew = make(chan struct{})
}

// since returns the lines from index from on, and a channel that is closed
// when more come.
func (o *output) since(from int) ([]string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(o.lines)
	return o.lines[min(from, n):n:n], o.grew
}
