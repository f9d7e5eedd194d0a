package cluster

import (
	"context"
	"fmt"
	"time"
)

// Throttler can limit the bandwidth of a node's link (a fault short of
// loss: every packet arrives, at a bounded rate). Runtimes use a token
// bucket (tbf) on the node's interface.
type Throttler interface {
	// Throttle limits what node sends to Rate bytes per second, and
	// what it receives too where the runtime can (Throttling says which),
	// replacing a previous limit of the node. A node restarted keeps it.
	Throttle(ctx context.Context, node string, rate int64) error
	// Unthrottle removes node's limit (nothing when it has none).
	Unthrottle(ctx context.Context, node string) error
	// MeasureThroughput sends data from node a to node b over one TCP
	// connection for about ThroughputProbe (or until ThroughputProbeBytes
	// are sent), and says how much arrived in how long.
	MeasureThroughput(ctx context.Context, a, b string) (Throughput, error)
}

// ThroughputProbe is how long MeasureThroughput sends at most, and
// ThroughputProbeBytes how much: an unlimited link is measured in a few
// tens of milliseconds, not loaded for a second.
const (
	ThroughputProbe      = time.Second
	ThroughputProbeBytes = 16 << 20
)

// Throughput is a measured transfer: Bytes received in Elapsed.
type Throughput struct {
	Bytes   int64
	Elapsed time.Duration
}

// BytesPerSecond is the measured rate (0 when nothing was timed).
func (t Throughput) BytesPerSecond() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Bytes) / t.Elapsed.Seconds()
}

// String renders t, e.g. "throughput 1.02 Mbit/s (128 kB in 1.001s)".
func (t Throughput) String() string {
	return fmt.Sprintf("throughput %s (%s in %v)", FormatRate(t.BytesPerSecond()), formatBytes(t.Bytes), t.Elapsed.Round(time.Millisecond))
}

// FormatRate renders bytes per second in bits per second, as tc does:
// "800 kbit/s", "1.02 Mbit/s".
func FormatRate(bytesPerSecond float64) string {
	b := bytesPerSecond * 8
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.3g Gbit/s", b/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.3g Mbit/s", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.3g kbit/s", b/1e3)
	}
	return fmt.Sprintf("%.3g bit/s", b)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3g GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3g MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3g kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
