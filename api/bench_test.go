package api

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The benchmarks measure the HTTP and API overhead around a generator
// that costs next to nothing (the fake): per request (parse, validate,
// template, tokenize, submit, JSON response) and per streamed token (one
// event through the forwarder, one SSE chunk written and flushed), over
// loopback TCP with a Go net/http client, whose cost is included.

func benchServer(b *testing.B) *testServer {
	ts := newTestServer(b)
	ts.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	return ts
}

func benchPost(b *testing.B, ts *testServer, body string) int {
	resp, err := ts.client.Post(ts.url+chatPath, "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	return int(n)
}

// BenchmarkRequest: one non-streaming chat completion of one token.
func BenchmarkRequest(b *testing.B) {
	ts := benchServer(b)
	body := chatBody(`"max_tokens":1`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		benchPost(b, ts, body)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/request")
}

// BenchmarkRequestParallel: the same from many concurrent clients.
func BenchmarkRequestParallel(b *testing.B) {
	ts := benchServer(b)
	body := chatBody(`"max_tokens":1`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, ts, body)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkStreamToken: streamed chat completions of 200 tokens each,
// reported per token.
func BenchmarkStreamToken(b *testing.B) {
	const tokens = 200
	ts := benchServer(b)
	body := `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":200,"stream":true}`
	b.ReportAllocs()
	b.ResetTimer()
	var bytesOut int
	for b.Loop() {
		bytesOut += benchPost(b, ts, body)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tokens), "ns/token")
	b.ReportMetric(float64(bytesOut)/float64(b.N*tokens), "B/token")
}

// BenchmarkChunkEncode: the cost of encoding one SSE content chunk alone.
func BenchmarkChunkEncode(b *testing.B) {
	j := &job{kind: kindChat, id: newID("chatcmpl-"), created: 1, model: fakeModel(b, "fake", nil), n: 1, fingerprint: "fp"}
	w := newSSE(bufio.NewWriter(io.Discard), nil, 0, j)
	b.ReportAllocs()
	for b.Loop() {
		text := " token"
		w.chatChunk(0, chatDelta{Content: &text}, nil, nil)
	}
}
