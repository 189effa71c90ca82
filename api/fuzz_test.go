package api

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"

	"spillway/scheduler"
)

// FuzzRequest feeds arbitrary bodies to every POST route. The generator
// refuses everything (503), so a body that passes validation ends there;
// anything else must be a 4xx with an OpenAI error document. Nothing may
// panic.
func FuzzRequest(f *testing.F) {
	for _, tc := range hostileCases {
		f.Add(uint8(0), tc.body)
	}
	f.Add(uint8(0), chatBody(`"n":3,"stop":["a"],"logprobs":true,"top_logprobs":2,"logit_bias":{"5":1}`))
	f.Add(uint8(1), `{"model":"fake","prompt":[[262,263],[264]],"max_tokens":2,"n":2,"stream":true}`)
	f.Add(uint8(1), `{"model":"fake","prompt":"<s>hello","logprobs":0,"echo":true}`)
	f.Add(uint8(2), `{"model":"fake","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]}`)
	f.Add(uint8(3), `{"model":"fake","tokens":[1,2,3]}`)
	s, err := New(Config{Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	gen := newFakeGen(f)
	gen.err = scheduler.ErrSaturated
	if err := s.AddModel(fakeModel(f, "fake", gen)); err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	paths := []string{chatPath, complPath, "/tokenize", "/detokenize"}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		var rc fasthttp.RequestCtx
		rc.Request.Header.SetMethod("POST")
		rc.Request.SetRequestURI(paths[int(route)%len(paths)])
		rc.Request.SetBodyString(body)
		h(&rc)
		status := rc.Response.StatusCode()
		out := rc.Response.Body()
		switch {
		case status == 200:
			if !json.Valid(out) {
				t.Fatalf("200 with invalid JSON: %q", out)
			}
		case status == 400 || status == 404 || status == 503:
			var doc errorBody
			if err := json.Unmarshal(out, &doc); err != nil || doc.Error.Message == "" || doc.Error.Type == "" {
				t.Fatalf("status %d with a bad error document: %q", status, out)
			}
		default:
			t.Fatalf("status %d for %q: %s", status, body, out)
		}
	})
}

func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"", "gzip", "zstd;q=0, gzip;q=0.5", "*;q=0", "br, deflate", ";;=,", "GZIP;Q=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		switch enc := pickEncoding([]byte(h)); enc {
		case "", "gzip", "zstd":
		default:
			t.Fatalf("pickEncoding(%q) = %q", h, enc)
		}
	})
}
