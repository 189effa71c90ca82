package federation_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"spillway/federation"
)

// The API layer's use of the federation for one streamed request: route
// on the scheduler's signal, serve locally when told to, otherwise let
// the Spiller stream, and write whatever chunk it emits (including the
// final error chunk of a broken stream) as an SSE event.
func Example() {
	cfg, err := federation.LoadConfig([]byte(`
providers:
  - {name: openai, kind: openai, base_url: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY,
     price_input: 0.15, price_output: 0.6}
routes:
  - {model: llama, targets: [local, openai]}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fed, err := federation.New(cfg, federation.Options{Getenv: func(string) string { return "sk-..." }})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := &federation.ChatRequest{Model: "llama", Stream: true,
		Messages: []federation.Message{{Role: "user", Content: federation.TextContent("Hi")}}}
	// In the server the signal comes from the scheduler's Snapshot.
	sig := federation.Signal{Waiting: 0, KVUsage: 0.3, Updated: time.Now()}
	d, err := fed.Route(federation.RouteInput{Model: req.Model, Tenant: "acme", Pin: federation.PinAuto, Signal: sig, Req: req})
	if err != nil {
		fmt.Println("503:", err)
		return
	}
	if d.Local() {
		fmt.Println("local:", d.Reason) // hand the request to the scheduler
		return
	}
	_, err = fed.Stream(context.Background(), federation.Call{Tenant: "acme", Decision: d, Req: req},
		func(ch *federation.ChatChunk) error {
			return nil // write "data: <json>\n\n" and flush; an error means the client left
		})
	if errors.Is(err, federation.ErrServeLocally) {
		fmt.Println("spill failed before the first byte: serve locally")
	}
}
