// Package bench is Parley's load generator: N simulated users over real WebSockets against
// any Parley endpoint, sending at a fixed overall rate from an open-loop scheduler, with ack,
// end-to-end and per-delivery latencies recorded in HDR histograms.
//
// Latencies are measured from each message's intended send time rather than from when the
// generator managed to send it, so a stall (in the server or in the generator) shows up in
// the percentiles instead of silently lowering the offered load (coordinated omission).
package bench
