package cost

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Report is the model's answer for one load: the monthly bill by component and by
// action, the liveness share and the quotas at the peak. `parley cost --json` prints it;
// monthlyUSD, byComponent, byAction and quotas are the stable keys.
type Report struct {
	Load       Load   `json:"load"`
	Region     string `json:"region"`
	PricesDate string `json:"pricesDate"`
	// MonthlyUSD is the bill of a 30-day month; ByComponent and ByAction split it.
	MonthlyUSD  float64            `json:"monthlyUSD"`
	ByComponent map[string]float64 `json:"byComponent"`
	ByAction    map[string]float64 `json:"byAction"`
	// LivenessUSD is keep-alive and presence: heartbeat/keepalive, presence refresh and
	// connect/disconnect; LivenessShare its fraction of MonthlyUSD (0 to 1).
	LivenessUSD   float64 `json:"livenessUSD"`
	LivenessShare float64 `json:"livenessShare"`
	// LivenessShareWithConnectionMinutes also counts the connection minutes.
	LivenessShareWithConnectionMinutes float64 `json:"livenessShareWithConnectionMinutes"`
	Quotas                             []Quota `json:"quotas"`
	// Peak holds the rates at the peak; Usage the month's quantities.
	Peak  map[string]float64 `json:"peak"`
	Usage map[string]float64 `json:"usage"`
	// Lines is the bill line by line.
	Lines []Line `json:"lines"`
}

// Line is one line of the bill.
type Line struct {
	Action        string  `json:"action"`
	What          string  `json:"what"`
	PerMonth      float64 `json:"perMonth"`
	PeakPerSecond float64 `json:"peakPerSecond"`
	USD           float64 `json:"usd"`
}

// fmtCount writes n with thousands separators, or with one decimal below 100.
func fmtCount(n float64) string {
	if n != 0 && math.Abs(n) < 100 {
		return strings.TrimSuffix(fmt.Sprintf("%.1f", n), ".0")
	}
	s := fmt.Sprintf("%.0f", math.Round(n))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtUSD(x float64) string {
	if x != 0 && math.Abs(x) < 100 {
		return fmt.Sprintf("$%.2f", x)
	}
	return "$" + fmtCount(x)
}

func pct(part, whole float64) string {
	if whole == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*part/whole)
}

// WriteText writes the report for people.
func (r Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	l := r.Load
	name := l.Name
	if name == "" {
		name = "custom"
	}
	fmt.Fprintf(bw, "Load %s: %s DAU, %s connections online, %s messages/day, peak %s msg/s\n",
		name, fmtCount(l.DAU), fmtCount(l.Concurrent), fmtCount(l.MessagesPerDay), fmtCount(l.PeakRate))
	fmt.Fprintf(bw, "  mix: %.0f%% direct, groups %s (mean %.0f members), %g receipts per recipient, %g sessions per DAU\n",
		100*l.DirectShare, l.GroupSizes, l.GroupSizes.Mean(), l.ReceiptsPerMessage, l.SessionsPerDay)
	switch l.Liveness {
	case LivenessBefore:
		fmt.Fprintf(bw, "  liveness before: heartbeat every %v through Lambda and DynamoDB\n", time.Duration(l.HeartbeatInterval))
	default:
		fmt.Fprintf(bw, "  liveness after: %.0f%% v1 heartbeat every %v (Lambda, no database), %.0f%% v1.1 keepalive every %v (MOCK); presence only at connect and disconnect\n",
			100*l.V1Share, time.Duration(l.HeartbeatInterval), 100*(1-l.V1Share), time.Duration(l.KeepaliveInterval))
	}
	if l.ChangesPerMessage > 0 || l.Notifications {
		fmt.Fprintf(bw, "  protocol 1.1: %g changes (priced as reactions) per message, offline notifications %s\n",
			l.ChangesPerMessage, map[bool]string{true: "priced", false: "not priced"}[l.Notifications])
	}
	fmt.Fprintf(bw, "  message store %s, INLINE_MAX_MEMBERS %d, prices %s of %s\n\n", l.MessageStore, l.InlineMaxMembers, r.Region, r.PricesDate)

	fmt.Fprintf(bw, "Monthly bill (%d days): %s\n\n", DaysPerMonth, fmtUSD(r.MonthlyUSD))
	fmt.Fprintln(bw, "By component:")
	for _, k := range sortedKeys(r.ByComponent, componentOrder) {
		fmt.Fprintf(bw, "  %-32s %14s  %6s\n", k, fmtUSD(r.ByComponent[k]), pct(r.ByComponent[k], r.MonthlyUSD))
	}
	fmt.Fprintln(bw, "\nBy action:")
	for _, k := range sortedKeys(r.ByAction, actionOrder) {
		fmt.Fprintf(bw, "  %-32s %14s  %6s\n", k, fmtUSD(r.ByAction[k]), pct(r.ByAction[k], r.MonthlyUSD))
	}
	fmt.Fprintf(bw, "\nLiveness share (heartbeat/keepalive + presence refresh + connect/disconnect): %s (%s)\n",
		pct(r.LivenessUSD, r.MonthlyUSD), fmtUSD(r.LivenessUSD))
	fmt.Fprintf(bw, "  with the connection minutes too: %.1f%%\n", 100*r.LivenessShareWithConnectionMinutes)

	fmt.Fprintln(bw, "\nLines:")
	for _, ln := range r.Lines {
		fmt.Fprintf(bw, "  %-19s %-66s %16s/month %10s/s peak %12s\n", ln.Action, ln.What, fmtCount(ln.PerMonth), fmtCount(ln.PeakPerSecond), fmtUSD(ln.USD))
	}

	fmt.Fprintln(bw, "\nQuotas at the peak:")
	for _, q := range r.Quotas {
		status := "ok"
		if q.Exceeded {
			status = "EXCEEDED"
		}
		adj := "adjustable"
		if !q.Adjustable {
			adj = "fixed"
		}
		fmt.Fprintf(bw, "  %-8s %s (%s)\n", status, q.Name, q.Service)
		fmt.Fprintf(bw, "           needed %s, default %s %s, %s\n", fmtCount(q.Needed), fmtCount(q.Default), q.Unit, adj)
		if q.Note != "" {
			fmt.Fprintf(bw, "           %s\n", q.Note)
		}
		if q.Exceeded && q.Request != "" {
			fmt.Fprintf(bw, "           → %s\n", q.Request)
		}
	}
	fmt.Fprintln(bw, "\nAssumptions (internal/cost, docs/scale.md): billed durations per function, 1 KB of logs per invocation,")
	fmt.Fprintln(bw, "500 B per access-log line, fan-out batches of one record, every member online with one connection")
	fmt.Fprintln(bw, "when a message is delivered, one sync per connect. Prices change: check AWS's pricing pages.")
	return bw.Flush()
}
