package rie

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// FunctionError is an invocation that failed: the function returned an error or panicked
// (Type is the Go error's type, such as "errorString"), its runtime exited
// ("Runtime.ExitError"), it timed out ("Sandbox.Timedout"), or the emulator failed it
// without a payload (Type "", typically a failed init: Output then holds what the
// emulator and the bootstrap printed meanwhile).
type FunctionError struct {
	// Function is the function's name.
	Function string
	// Type and Message are the errorType and errorMessage of Lambda's error payload.
	Type, Message string
	// Output is the tail of the function's output during the invocation, for a failure
	// without a payload.
	Output string
}

func (e *FunctionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rie: function %s failed: ", e.Function)
	if e.Type != "" {
		b.WriteString(e.Type + ": ")
	}
	b.WriteString(e.Message)
	if e.Output != "" {
		b.WriteString("; its output: " + e.Output)
	}
	return b.String()
}

// Timeouts are the emulator's answer "Task timed out after N.00 seconds", with HTTP 200.
const timeoutPrefix = "Task timed out after"

// TypeTimeout is the Type of a FunctionError for an invocation that timed out, as Lambda
// names it.
const TypeTimeout = "Sandbox.Timedout"

// decode turns the emulator's answer into the function's response or a *FunctionError.
//
// Lambda marks a failed invocation with the X-Amz-Function-Error header; the emulator does
// not (it answers HTTP 200 with the runtime's error payload, 502 when the runtime exited,
// and 200 with a line of text on a timeout), so the payload's shape decides too: a JSON
// object with an errorMessage and no other keys than Lambda's error payload has. No
// response of a Parley function has that shape.
func decode(function string, status int, header http.Header, body []byte) ([]byte, error) {
	fe := &FunctionError{Function: function}
	payload, isPayload := errorPayload(body)
	switch {
	case header.Get("X-Amz-Function-Error") != "" || status/100 != 2:
		if isPayload {
			fe.Type, fe.Message = payload.Type, payload.Message
		} else {
			fe.Message = fmt.Sprintf("the emulator answered %d %s", status, http.StatusText(status))
			if t := strings.TrimSpace(string(body)); t != "" {
				fe.Message += ": " + t
			}
		}
		return nil, fe
	case bytes.HasPrefix(body, []byte(timeoutPrefix)):
		fe.Type, fe.Message = TypeTimeout, string(body)
		return nil, fe
	case isPayload:
		fe.Type, fe.Message = payload.Type, payload.Message
		return nil, fe
	}
	return body, nil
}

type errorPayloadJSON struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

// errorPayload decodes Lambda's error payload: {"errorMessage", "errorType",
// "stackTrace"}, errorMessage required.
func errorPayload(body []byte) (errorPayloadJSON, bool) {
	var keys map[string]json.RawMessage
	if json.Unmarshal(body, &keys) != nil {
		return errorPayloadJSON{}, false
	}
	if _, ok := keys["errorMessage"]; !ok {
		return errorPayloadJSON{}, false
	}
	for k := range keys {
		if k != "errorMessage" && k != "errorType" && k != "stackTrace" {
			return errorPayloadJSON{}, false
		}
	}
	var p errorPayloadJSON
	if json.Unmarshal(body, &p) != nil {
		return errorPayloadJSON{}, false
	}
	return p, true
}
