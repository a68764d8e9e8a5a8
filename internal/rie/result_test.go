package rie

import (
	"errors"
	"net/http"
	"testing"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	fnErr := http.Header{"X-Amz-Function-Error": {"Unhandled"}}
	for _, tc := range []struct {
		name          string
		status        int
		header        http.Header
		body          string
		typ, message  string // of the FunctionError; "" and "" for a response
		wantAResponse bool
	}{
		{name: "response", status: 200, body: `{"statusCode":200,"body":"{}"}`, wantAResponse: true},
		{name: "null response", status: 200, body: `null`, wantAResponse: true},
		{name: "a response with an errorMessage among other keys", status: 200, body: `{"errorMessage":"x","statusCode":200}`, wantAResponse: true},
		{name: "error payload", status: 200, body: `{"errorMessage":"Unauthorized","errorType":"errorString"}`, typ: "errorString", message: "Unauthorized"},
		{name: "error payload with a stack trace", status: 200, body: `{"errorMessage":"boom","errorType":"string","stackTrace":[]}`, typ: "string", message: "boom"},
		{name: "header", status: 200, header: fnErr, body: `{"errorMessage":"boom","errorType":"errorString"}`, typ: "errorString", message: "boom"},
		{name: "header without a payload", status: 200, header: fnErr, body: `oops`, message: "the emulator answered 200 OK: oops"},
		{name: "runtime exit", status: 502, body: `{"errorType":"Runtime.ExitError","errorMessage":"exit status 2"}`, typ: "Runtime.ExitError", message: "exit status 2"},
		{name: "init failure", status: 502, message: "the emulator answered 502 Bad Gateway"},
		{name: "timeout", status: 200, body: "Task timed out after 5.00 seconds", typ: TypeTimeout, message: "Task timed out after 5.00 seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			got, err := decode("fn", tc.status, h, []byte(tc.body))
			if tc.wantAResponse {
				if err != nil || string(got) != tc.body {
					t.Fatalf("got %q, %v; want the response %q", got, err, tc.body)
				}
				return
			}
			var fe *FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("got %q, %v; want a *FunctionError", got, err)
			}
			if fe.Function != "fn" || fe.Type != tc.typ || fe.Message != tc.message {
				t.Fatalf("got %+v, want type %q message %q", fe, tc.typ, tc.message)
			}
		})
	}
}
