// Package faults injects into `parley local` the failures AWS produces, so that tests and
// `parley verify` can show that nothing acknowledged is lost when things fail.
//
// A Spec names fault kinds and their rates (Parse documents the syntax); an Injector
// rolls the dice and counts what it injected, by kind (served as JSON at GET
// /local/faults). The wrappers of this package put the faults where AWS would produce
// them, without the parts they wrap knowing: the Management API (Management), DynamoDB
// (DynamoDB, in front of the local DynamoDB proxy), the functions (Route and Stream), and
// the gateway's client connections (Listener). A nil *Injector injects nothing.
package faults

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is one kind of fault.
type Kind string

// The fault kinds. Each is documented in docs/reliability.md.
const (
	// PostThrottle answers a Management API post with 429 LimitExceededException; the
	// frame is not delivered.
	PostThrottle Kind = "post.throttle"
	// PostError answers a post with 500 InternalServerErrorException; not delivered.
	PostError Kind = "post.error"
	// PostTimeout delivers the frame, then holds the answer for the rule's duration
	// (default 6 s, past the pusher's 5 s timeout) and answers 504: the poster cannot
	// tell, retries, and the member gets the frame twice.
	PostTimeout Kind = "post.timeout"
	// DDBThrottle answers a DynamoDB request with ThrottlingException (400); nothing done.
	DDBThrottle Kind = "ddb.throttle"
	// DDBCapacity answers with ProvisionedThroughputExceededException (400); nothing done.
	DDBCapacity Kind = "ddb.capacity"
	// DDBError answers with InternalServerError (500); nothing done.
	DDBError Kind = "ddb.error"
	// DDBAmbiguous carries the request out, then answers InternalServerError (500): the
	// caller cannot tell whether its write happened.
	DDBAmbiguous Kind = "ddb.ambiguous"
	// DDBLatency delays a request by the rule's duration (default 20 ms).
	DDBLatency Kind = "ddb.latency"
	// CrashBefore makes a route function crash before it does anything: API Gateway
	// answers the client "Internal server error".
	CrashBefore Kind = "fn.crash-before"
	// CrashAfter lets a route function run (its writes happen) and crash before it
	// answers.
	CrashAfter Kind = "fn.crash-after"
	// FanoutCrash makes the stream function handle a random prefix of its batch, then
	// panic.
	FanoutCrash Kind = "fn.fanout-crash"
	// FanoutTimeout makes the stream function handle a random prefix of its batch, then
	// time out.
	FanoutTimeout Kind = "fn.fanout-timeout"
	// Drop resets a client's WebSocket connection (no close frame) as it sends a frame.
	Drop Kind = "gw.drop"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{PostThrottle, PostError, PostTimeout, DDBThrottle, DDBCapacity, DDBError, DDBAmbiguous,
	DDBLatency, CrashBefore, CrashAfter, FanoutCrash, FanoutTimeout, Drop}

// defaultDuration is the duration of the kinds that take one, when a rule gives none.
var defaultDuration = map[Kind]time.Duration{PostTimeout: 6 * time.Second, DDBLatency: 20 * time.Millisecond}

// Rule is one entry of a Spec: a kind at a rate, for DynamoDB kinds optionally one
// operation only.
type Rule struct {
	Kind Kind
	// Op limits a ddb.* rule to one DynamoDB operation (PutItem, Query, ...); "" is all.
	Op string
	// Rate is the probability, 0 to 1, that the fault hits one request (post, DynamoDB
	// request, invocation or client frame).
	Rate float64
	// Duration is the hold of post.timeout and the delay of ddb.latency.
	Duration time.Duration
}

// Spec is a set of rules.
type Spec []Rule

// Chaos is the preset "chaos": every kind at a few percent.
// Rates are per request, post, invocation or client frame; the stream function is invoked
// least often (once per batch), so its kinds get the higher rates, and a post timeout,
// which stalls its batch for seconds, the lowest.
const Chaos = "post.throttle=2%,post.error=2%,post.timeout=0.1%,ddb.throttle=1%,ddb.capacity=1%," +
	"ddb.error=1%,ddb.ambiguous=0.5%,ddb.latency=5%:20ms,fn.crash-before=1%,fn.crash-after=1%," +
	"fn.fanout-crash=5%,fn.fanout-timeout=5%,gw.drop=0.5%"

// Parse reads a fault specification: comma-separated entries, each a preset name
// ("chaos", or "none") or KIND[@OPERATION]=RATE[:DURATION], where RATE is a percentage
// ("2%") or a fraction ("0.02"), OPERATION a DynamoDB operation (ddb.* kinds only) and
// DURATION a Go duration (post.timeout and ddb.latency only). A later entry for the same
// kind and operation replaces an earlier one, so "chaos,gw.drop=0" is chaos without drops.
func Parse(s string) (Spec, error) {
	var spec Spec
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		switch entry {
		case "", "none":
			continue
		case "chaos":
			preset, err := Parse(Chaos)
			if err != nil {
				return nil, err
			}
			for _, r := range preset {
				spec = spec.with(r)
			}
			continue
		}
		r, err := parseRule(entry)
		if err != nil {
			return nil, fmt.Errorf("faults: %q: %w", entry, err)
		}
		spec = spec.with(r)
	}
	return spec, nil
}

func parseRule(entry string) (Rule, error) {
	name, value, ok := strings.Cut(entry, "=")
	if !ok {
		return Rule{}, fmt.Errorf("want KIND=RATE, a preset (chaos, none), or KIND@OPERATION=RATE")
	}
	var r Rule
	kind, op, hasOp := strings.Cut(name, "@")
	r.Kind = Kind(kind)
	if !known(r.Kind) {
		return Rule{}, fmt.Errorf("unknown fault kind %q (kinds: %s)", kind, list())
	}
	if hasOp {
		if !strings.HasPrefix(kind, "ddb.") || op == "" {
			return Rule{}, fmt.Errorf("an @OPERATION names a DynamoDB operation of a ddb.* kind")
		}
		r.Op = op
	}
	rate, dur, hasDur := strings.Cut(value, ":")
	var err error
	if pct, isPct := strings.CutSuffix(rate, "%"); isPct {
		r.Rate, err = strconv.ParseFloat(pct, 64)
		r.Rate /= 100
	} else {
		r.Rate, err = strconv.ParseFloat(rate, 64)
	}
	if err != nil || r.Rate < 0 || r.Rate > 1 {
		return Rule{}, fmt.Errorf("rate %q: want a percentage (2%%) or a fraction from 0 to 1", rate)
	}
	r.Duration = defaultDuration[r.Kind]
	if hasDur {
		if _, takes := defaultDuration[r.Kind]; !takes {
			return Rule{}, fmt.Errorf("only post.timeout and ddb.latency take a duration")
		}
		if r.Duration, err = time.ParseDuration(dur); err != nil || r.Duration < 0 {
			return Rule{}, fmt.Errorf("duration %q: want a Go duration such as 20ms", dur)
		}
	}
	return r, nil
}

// with returns the spec with r in place of a rule of the same kind and operation.
func (s Spec) with(r Rule) Spec {
	for i, x := range s {
		if x.Kind == r.Kind && x.Op == r.Op {
			s[i] = r
			return s
		}
	}
	return append(s, r)
}

// String renders the spec in Parse's syntax.
func (s Spec) String() string {
	parts := make([]string, 0, len(s))
	for _, r := range s {
		name := string(r.Kind)
		if r.Op != "" {
			name += "@" + r.Op
		}
		p := name + "=" + strconv.FormatFloat(r.Rate*100, 'g', -1, 64) + "%"
		if _, takes := defaultDuration[r.Kind]; takes {
			p += ":" + r.Duration.String()
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ",")
}

func known(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func list() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Injector decides, per request, whether a fault hits, and counts the faults injected.
// It is safe for concurrent use. A nil *Injector never injects.
type Injector struct {
	spec    Spec
	enabled atomic.Bool
	counts  map[Kind]*atomic.Int64
	// roll returns a number in [0, 1); tests replace it.
	mu   sync.Mutex
	roll func() float64
}

// New returns an Injector for spec, disabled until Enable (so that a runtime's own set-up
// runs without faults).
func New(spec Spec) *Injector {
	in := &Injector{spec: spec, counts: map[Kind]*atomic.Int64{}, roll: rand.Float64}
	for _, k := range Kinds {
		in.counts[k] = new(atomic.Int64)
	}
	return in
}

// Enable starts injecting.
func (in *Injector) Enable() {
	if in != nil {
		in.enabled.Store(true)
	}
}

// Spec is what the injector injects.
func (in *Injector) Spec() Spec {
	if in == nil {
		return nil
	}
	return in.spec
}

// hit reports whether a fault of kind (for DynamoDB operation op, or "") hits now, and
// with which rule; a hit is counted.
func (in *Injector) hit(kind Kind, op string) (Rule, bool) {
	if in == nil || !in.enabled.Load() {
		return Rule{}, false
	}
	for _, r := range in.spec {
		if r.Kind != kind || (r.Op != "" && r.Op != op) || r.Rate <= 0 {
			continue
		}
		in.mu.Lock()
		x := in.roll()
		in.mu.Unlock()
		if x < r.Rate {
			in.counts[kind].Add(1)
			return r, true
		}
		return Rule{}, false
	}
	return Rule{}, false
}

// Hit reports whether a fault of kind hits now (and counts it).
func (in *Injector) Hit(kind Kind) bool {
	_, ok := in.hit(kind, "")
	return ok
}

// Counts returns the faults injected so far, by kind, every kind included.
func (in *Injector) Counts() map[Kind]int64 {
	out := make(map[Kind]int64, len(Kinds))
	for _, k := range Kinds {
		if in != nil {
			out[k] = in.counts[k].Load()
		} else {
			out[k] = 0
		}
	}
	return out
}

// ServeHTTP answers GET /local/faults with the counts as a JSON object, kind → count.
func (in *Injector) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	counts := in.Counts()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	w.Header().Set("Content-Type", "application/json")
	out := make(map[string]int64, len(counts))
	for _, k := range keys {
		out[k] = counts[Kind(k)]
	}
	_ = json.NewEncoder(w).Encode(out)
}
