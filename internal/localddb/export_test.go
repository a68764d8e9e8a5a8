package localddb

import "errors"

// ErrCrashed is what a write of a crashed proxy returns (see Crash).
var ErrCrashed = errors.New("localddb test: the proxy crashed")

// Crash makes every later captured write stop right after the upstream applied it, before
// its record is read and logged, as if the process had died there. A test then closes the
// proxy and opens another one on the same directory.
func Crash(p *Proxy) { p.afterForward = func() error { return ErrCrashed } }
