package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sampleOp is a typical client op.
func sampleOp(p int) Op {
	return Op{Type: Invoke, Process: Process(p), F: "cas", Key: "k1", Value: Ints(3, 4)}
}

func TestWriterConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, per = 16, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				op := sampleOp(g)
				op.Index = i // per-goroutine sequence, checked below
				if err := w.Write(&op); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != writers*per {
		t.Fatalf("got %d lines, want %d", len(lines), writers*per)
	}
	next := make(map[Process]int)
	for n, line := range lines {
		var got Op
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %q: %v", n+1, line, err)
		}
		if got.Index != next[got.Process] {
			t.Fatalf("line %d: process %d wrote op %d before op %d", n+1, got.Process, got.Index, next[got.Process])
		}
		next[got.Process]++
	}
}

func TestWriterFlushesWithinInterval(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "h.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f)
	defer w.Close()
	op := sampleOp(1)
	want, err := marshalLine(&op)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := w.Write(&op); err != nil {
		t.Fatal(err)
	}
	// Poll the file while the writer is open. The deadline is generous
	// for loaded machines and the race detector; the elapsed time is
	// logged and must stay far below it.
	deadline := start.Add(5 * time.Second)
	for {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(data, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("op not in the file %v after Write; file holds %q", time.Since(start), data)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	t.Logf("op reached the file after %v (FlushInterval %v)", elapsed, FlushInterval)
	if elapsed > 10*FlushInterval {
		t.Errorf("op reached the file after %v, want about %v", elapsed, FlushInterval)
	}

	// A second burst is flushed too: the timer re-arms.
	op2 := sampleOp(2)
	line2, _ := marshalLine(&op2)
	if err := w.Write(&op2); err != nil {
		t.Fatal(err)
	}
	want = append(want, line2...)
	for {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(data, want) {
			break
		}
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("second op not flushed; file holds %q", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWriterCloseIdempotent(t *testing.T) {
	var buf syncBuffer
	w := NewWriter(&buf)
	op := sampleOp(0)
	if err := w.Write(&op); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); strings.Count(got, "\n") != 1 || !buf.synced {
		t.Fatalf("after Close: %q, synced %v", got, buf.synced)
	}
	if err := w.Write(&op); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", err)
	}
}

func TestWriterStickyError(t *testing.T) {
	boom := errors.New("disk full")
	fw := &failWriter{after: 1, err: boom}
	w := NewWriter(fw)
	op := sampleOp(0)
	for range 3 {
		if err := w.Write(&op); err != nil {
			t.Fatal(err) // buffered: no error yet
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&op); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want %v", err, boom)
	}
	if err := w.Write(&op); !errors.Is(err, boom) {
		t.Fatalf("Write after error = %v, want %v", err, boom)
	}
	if err := w.Err(); !errors.Is(err, boom) {
		t.Fatalf("Err = %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want %v", err, boom)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("second Close = %v, want %v", err, boom)
	}
	if fw.calls != 2 {
		t.Fatalf("%d writes to the failing writer, want 2 (nothing after the error)", fw.calls)
	}
}

func TestWriterStickyErrorFromTimer(t *testing.T) {
	boom := errors.New("io error")
	w := NewWriter(&failWriter{err: boom})
	defer w.Close()
	op := sampleOp(0)
	if err := w.Write(&op); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("background flush did not report the error")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.Write(&op); !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want %v", err, boom)
	}
}

func TestWriterLargeBurstFlushesSynchronously(t *testing.T) {
	var buf syncBuffer
	w := NewWriter(&buf)
	op := sampleOp(0)
	n := 0
	for buf.Len() == 0 {
		if err := w.Write(&op); err != nil {
			t.Fatal(err)
		}
		if n++; n > 10*maxPending {
			t.Fatal("buffer never flushed")
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(buf.String(), "\n"); got != n {
		t.Fatalf("%d lines, want %d", got, n)
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path); !errors.Is(err, os.ErrExist) {
		t.Fatalf("Create over an existing file = %v, want ErrExist", err)
	}
}

func TestNilWriter(t *testing.T) {
	var w *Writer
	op := sampleOp(0)
	if err := w.Write(&op); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a concurrency-safe buffer with a Sync method.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	synced bool
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.synced = true
	return nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// failWriter fails every write after the first `after` ones.
type failWriter struct {
	mu    sync.Mutex
	after int
	calls int
	err   error
}

func (f *failWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls > f.after {
		return 0, f.err
	}
	return len(p), nil
}

func BenchmarkWriter(b *testing.B) {
	run := func(b *testing.B, parallel bool) {
		f, err := os.Create(filepath.Join(b.TempDir(), "h.jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		w := NewWriter(f)
		op := sampleOp(3)
		op.Time = 123456789
		line, _ := marshalLine(&op)
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		b.ResetTimer()
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				op := op
				for pb.Next() {
					if err := w.Write(&op); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			for i := 0; b.Loop(); i++ {
				op.Index = i
				if err := w.Write(&op); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	}
	b.Run("serial", func(b *testing.B) { run(b, false) })
	b.Run("parallel", func(b *testing.B) { run(b, true) })
}

// A write that fails after taking part of a line (a full disk) closes
// Failed and cuts the file back to its last whole line, so that it stays a
// history prefix that reads back without a truncated line.
func TestWriterFailedWriteKeepsWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops := make([]Op, 4)
	var lines [][]byte
	for i := range ops {
		ops[i] = sampleOp(0)
		ops[i].Index = i
		ops[i].Type = []Type{Invoke, OK}[i%2]
		line, _ := marshalLine(&ops[i])
		lines = append(lines, line)
	}
	whole := len(lines[0]) + len(lines[1])
	// Room for 2.5 lines.
	lim := &limitedFile{File: f, room: whole + len(lines[2])/2}
	w := NewWriter(lim)
	select {
	case <-w.Failed():
		t.Fatal("Failed closed before any failure")
	default:
	}
	for i := range ops {
		if err := w.Write(&ops[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush = %v, want ENOSPC", err)
	}
	select {
	case <-w.Failed():
	default:
		t.Fatal("Failed not closed after a failed write")
	}
	_ = w.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != whole {
		t.Fatalf("file holds %d bytes, want the 2 whole lines (%d bytes)", len(data), whole)
	}
	h, info, err := ReadJSONL(bytes.NewReader(data))
	if err != nil || info.Truncated || len(h.Ops) != 2 {
		t.Fatalf("read back: %v, %+v", err, info)
	}
}

// limitedFile is a file that takes room bytes, then fails with ENOSPC.
type limitedFile struct {
	*os.File
	room int
}

func (l *limitedFile) Write(p []byte) (int, error) {
	if len(p) <= l.room {
		l.room -= len(p)
		return l.File.Write(p)
	}
	n, _ := l.File.Write(p[:l.room])
	l.room = 0
	return n, &os.PathError{Op: "write", Path: l.Name(), Err: syscall.ENOSPC}
}
