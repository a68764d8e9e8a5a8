// Package cost is Parley's capacity and cost model (`parley cost`): what a load costs on
// AWS each month and which quotas it reaches.
package cost

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
)

// Requests is what one action costs in requests, as the counting test of internal/awslambda
// measured it on the real code paths (the real store against dynalite, the handlers as
// the functions run them).
type Requests struct {
	// Invocations counts Lambda invocations by function name (internal/topology).
	Invocations map[string]int `json:"invocations"`
	// Reads and Writes count DynamoDB requests by operation (GetItem, Query, BatchGetItem;
	// PutItem, UpdateItem, DeleteItem). Items are small: one request is one read or write
	// unit, a strongly consistent read of one item of up to 4 KB.
	Reads  map[string]int `json:"reads"`
	Writes map[string]int `json:"writes"`
	// Posts counts Management API posts (PostToConnection), each one API Gateway message.
	Posts int `json:"posts"`
	// Frames counts client frames into API Gateway; Replies the route responses out.
	Frames  int `json:"frames"`
	Replies int `json:"replies"`
}

// Total returns the invocations, reads and writes summed over their maps.
func (r Requests) Total() (invocations, reads, writes int) {
	for _, n := range r.Invocations {
		invocations += n
	}
	for _, n := range r.Reads {
		reads += n
	}
	for _, n := range r.Writes {
		writes += n
	}
	return invocations, reads, writes
}

// RequestsFile is requests.json: the measured requests of each action.
type RequestsFile struct {
	Comment string              `json:"_comment"`
	Actions map[string]Requests `json:"actions"`
}

// RequestsFileName is where the counting test writes the file (relative to the module
// root) and what this package embeds.
const RequestsFileName = "internal/cost/requests.json"

// RequestsComment heads the file.
const RequestsComment = "Measured by `go test ./internal/awslambda -run RequestsPerMessage -update-requests`; " +
	"the test fails when the code's counts and this file differ. Do not edit by hand."

//go:embed requests.json
var requestsJSON []byte

// Measured returns the embedded requests.json.
func Measured() (RequestsFile, error) {
	var f RequestsFile
	if err := json.Unmarshal(requestsJSON, &f); err != nil {
		return RequestsFile{}, fmt.Errorf("cost: requests.json: %w", err)
	}
	if len(f.Actions) == 0 {
		return RequestsFile{}, fmt.Errorf("cost: requests.json lists no action")
	}
	return f, nil
}

// Names returns the actions of f, sorted.
func (f RequestsFile) Names() []string {
	names := make([]string, 0, len(f.Actions))
	for n := range f.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
