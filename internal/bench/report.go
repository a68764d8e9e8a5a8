package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: latencies are recorded in microseconds from 1 µs to 2 minutes, with 3
// significant figures; longer values are clamped to the maximum (and counted in Clamped).
const (
	histMinMicros = 1
	histMaxMicros = int64(2 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

// latencyHistogram is an HDR histogram of durations. It is not safe for concurrent use.
type latencyHistogram struct {
	h       *hdrhistogram.Histogram
	clamped int64
}

func newLatencyHistogram() *latencyHistogram {
	return &latencyHistogram{h: hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)}
}

// record adds one duration; negative durations count as 0 and over-range ones as the maximum.
func (l *latencyHistogram) record(d time.Duration) {
	us := d.Microseconds()
	if us < histMinMicros {
		us = histMinMicros
	}
	if us > histMaxMicros {
		us = histMaxMicros
		l.clamped++
	}
	_ = l.h.RecordValue(us) // in range by construction
}

// summary returns the distribution in milliseconds.
func (l *latencyHistogram) summary() Latency {
	if l.h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		Count:   l.h.TotalCount(),
		Mean:    l.h.Mean() / 1000,
		P50:     ms(l.h.ValueAtQuantile(50)),
		P90:     ms(l.h.ValueAtQuantile(90)),
		P99:     ms(l.h.ValueAtQuantile(99)),
		P999:    ms(l.h.ValueAtQuantile(99.9)),
		Max:     ms(l.h.Max()),
		Clamped: l.clamped,
	}
}

// Latency is a latency distribution in milliseconds (HDR histogram, 3 significant figures).
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"meanMs"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	P999  float64 `json:"p999Ms"`
	Max   float64 `json:"maxMs"`
	// Clamped counts values over the histogram's 2-minute range, recorded as 2 minutes.
	Clamped int64 `json:"clamped,omitempty"`
}

// Report is the outcome of a run. Counts and latencies cover the measured window only
// (messages whose intended send time fell after the warm-up).
type Report struct {
	URL             string  `json:"url"`
	Scenario        string  `json:"scenario"`
	Action          string  `json:"action"`
	Users           int     `json:"users"`
	Conversations   int     `json:"conversations"`
	Members         int     `json:"membersPerConversation"`
	TargetRate      float64 `json:"targetRate"`
	WarmupSeconds   float64 `json:"warmupSeconds"`
	DurationSeconds float64 `json:"durationSeconds"`
	ConnectSeconds  float64 `json:"connectSeconds"`

	// Sent counts the sends scheduled in the window; Acked those acknowledged; Failed
	// those answered with an error or lost with the connection; Unacked those still
	// without an answer when the run ended.
	Sent    int64 `json:"sent"`
	Acked   int64 `json:"acked"`
	Failed  int64 `json:"failed"`
	Unacked int64 `json:"unacked"`

	// ExpectedDeliveries is, over acked messages, the number of recipient connections
	// (members other than the sender); Deliveries the distinct ones that arrived;
	// MissingDeliveries the difference when the drain time ran out; Duplicates the
	// repeated arrivals (allowed by at-least-once delivery, dropped by clients).
	ExpectedDeliveries int64 `json:"expectedDeliveries"`
	Deliveries         int64 `json:"deliveries"`
	MissingDeliveries  int64 `json:"missingDeliveries"`
	Duplicates         int64 `json:"duplicateDeliveries"`

	// Throughput is acked messages per second of the window; DeliveriesPerSec likewise.
	Throughput       float64 `json:"throughputPerSec"`
	DeliveriesPerSec float64 `json:"deliveriesPerSec"`

	// Latencies are measured from each message's intended send time (open loop, so a
	// stalled client or server cannot hide its backlog): Ack until the ack arrived, E2E
	// until the last recipient connection had it, Delivery for each recipient connection.
	Ack      Latency `json:"ackLatency"`
	E2E      Latency `json:"e2eLatency"`
	Delivery Latency `json:"deliveryLatency"`

	// SchedulerLagMaxMs is the largest delay between a send's intended time and when the
	// load generator could issue it; large values mean the generator itself was saturated.
	SchedulerLagMaxMs float64 `json:"schedulerLagMaxMs"`

	// Errors counts failures by protocol code, or "timeout", "closed" and "other".
	Errors map[string]int64 `json:"errors"`
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "parley bench: %s scenario (%s) against %s\n", r.Scenario, r.Action, r.URL)
	fmt.Fprintf(&b, "  %d users, %d conversations of %d members, target %.1f msg/s, warm-up %s, measured %s (connect took %.2fs)\n",
		r.Users, r.Conversations, r.Members, r.TargetRate, secs(r.WarmupSeconds), secs(r.DurationSeconds), r.ConnectSeconds)
	fmt.Fprintf(&b, "  sent %d, acked %d, failed %d, unacked %d\n", r.Sent, r.Acked, r.Failed, r.Unacked)
	fmt.Fprintf(&b, "  deliveries %d of %d expected, missing %d, duplicates %d\n",
		r.Deliveries, r.ExpectedDeliveries, r.MissingDeliveries, r.Duplicates)
	fmt.Fprintf(&b, "  throughput %.1f msg/s, %.1f deliveries/s, scheduler lag max %.1f ms\n",
		r.Throughput, r.DeliveriesPerSec, r.SchedulerLagMaxMs)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  latency (ms)\tcount\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, row := range []struct {
		name string
		l    Latency
	}{{"ack", r.Ack}, {"end-to-end", r.E2E}, {"per delivery", r.Delivery}} {
		fmt.Fprintf(tw, "  %s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			row.name, row.l.Count, row.l.Mean, row.l.P50, row.l.P90, row.l.P99, row.l.P999, row.l.Max)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format report: %w", err)
	}
	if len(r.Errors) == 0 {
		b.WriteString("  errors: none\n")
	} else {
		codes := make([]string, 0, len(r.Errors))
		for c := range r.Errors {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		b.WriteString("  errors:")
		for _, c := range codes {
			fmt.Fprintf(&b, " %s=%d", c, r.Errors[c])
		}
		b.WriteString("\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func secs(s float64) string { return (time.Duration(s * float64(time.Second))).String() }
