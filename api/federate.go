package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"spillway/federation"
	"spillway/scheduler"
)

// routeHeader names where a request is to go (request) and where it was
// served (response): "local" or the provider's name.
const routeHeader = "X-Spillway-Route"

// fed is the server's view of the federation: the Spiller plus the model
// sets it routes, fixed at New.
type fed struct {
	sp         *federation.Spiller
	routed     map[string]bool // models with a route
	remoteOnly []string        // routed models without a local target, in configuration order
	started    time.Time       // "created" of remote-only models in /v1/models
}

func newFed(sp *federation.Spiller) *fed {
	f := &fed{sp: sp, routed: map[string]bool{}, started: time.Now()}
	for _, r := range sp.Snapshot().Routes {
		f.routed[r.Model] = true
		local := false
		for _, t := range r.Targets {
			local = local || t == federation.Local
		}
		if !local {
			f.remoteOnly = append(f.remoteOnly, r.Model)
		}
	}
	return f
}

// federates reports whether the federation routes model: models without a
// route are served exactly as without a federation.
func (s *Server) federates(model string) bool { return s.fed != nil && s.fed.routed[model] }

// requestPin reads the route pin: the body's "route" field, else the
// X-Spillway-Route header; both given must agree.
func requestPin(rc *fasthttp.RequestCtx, body string) (federation.Pin, error) {
	header := string(rc.Request.Header.Peek(routeHeader))
	if body != "" && header != "" && body != header {
		return "", badRequest("route", fmt.Sprintf("the body's route %q and the %s header %q disagree", body, routeHeader, header))
	}
	v := body
	if v == "" {
		v = header
	}
	pin, err := federation.ParsePin(v)
	if err != nil {
		return "", badRequest("route", err.Error())
	}
	return pin, nil
}

// signalOf turns the generator's snapshot into the spill signal. An idle
// scheduler does not step and so does not refresh its snapshot; with
// nothing running or waiting it is idle, not stale.
func signalOf(snap scheduler.Snapshot, now time.Time) federation.Signal {
	sig := federation.Signal{Waiting: snap.Waiting, KVUsage: snap.KVUsage, EstQueueWait: snap.EstQueueWait, Updated: snap.Updated}
	if snap.Running == 0 && snap.Waiting == 0 {
		sig.Updated = now
	}
	return sig
}

// chatFederated serves a chat request for a routed model: validated
// completely for the local engine when the model is local, then routed;
// a local decision runs as without federation, and a local engine whose
// queue is full spills what it cannot take (unless pinned local).
func (s *Server) chatFederated(rc *fasthttp.RequestCtx, t *tenantState, req *chatRequest) error {
	pin, err := requestPin(rc, req.Route)
	if err != nil {
		return err
	}
	body, err := federation.ParseChatRequest(rc.PostBody())
	if err != nil {
		return badRequest("", err.Error())
	}
	delete(body.Extra, "route") // ours: an upstream Spillway must decide for itself
	in := federation.RouteInput{Model: req.Model, Tenant: t.name(), Pin: pin, Req: body}
	var j *job
	if m, lerr := s.lookup(req.Model); lerr == nil {
		if j, err = s.chatJob(t, m, req); err != nil {
			return err
		}
		j.route = federation.Local
		in.Signal = signalOf(m.Gen.Snapshot(), s.cfg.Now())
	} else if pin == federation.PinLocal {
		return lerr
	} else {
		in.Pin = federation.PinRemote // not (yet) served here: remote-only or still loading
	}
	d, err := s.fed.sp.Route(in)
	if err != nil {
		return fedError(err)
	}
	if !d.Local() {
		err := s.spill(rc, t, d, body)
		if !errors.Is(err, federation.ErrServeLocally) {
			return err
		}
		if j == nil {
			return unavailable(fmt.Sprintf("model %q: no target could serve the request", req.Model), "no_spill_target")
		}
	}
	err = s.run(rc, j)
	if errors.Is(err, scheduler.ErrSaturated) && pin == federation.PinAuto {
		in.Pin = federation.PinRemote
		if d, rerr := s.fed.sp.Route(in); rerr == nil {
			return s.spill(rc, t, d, body)
		} else if errors.Is(rerr, federation.ErrBudgetExceeded) {
			return fedError(rerr)
		}
	}
	return err
}

// spill serves a decision that starts with a provider. It returns
// ErrServeLocally, having written nothing, when the decision falls back
// to the local engine.
func (s *Server) spill(rc *fasthttp.RequestCtx, t *tenantState, d federation.Decision, body *federation.ChatRequest) error {
	if s.draining.Load() {
		return unavailable("the server is shutting down", "shutting_down")
	}
	call := federation.Call{Tenant: t.name(), Decision: d, Req: body}
	if body.Stream {
		return s.spillStream(rc, call)
	}
	ctx, cancel := s.requestContext()
	defer cancel()
	p := startProbe(rc.Conn(), cancel)
	resp, rec, err := s.fed.sp.Complete(ctx, call)
	if p.stop() {
		rc.SetConnectionClose()
	}
	if err != nil {
		if errors.Is(err, federation.ErrServeLocally) {
			return err
		}
		return fedError(err)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return serverError("encoding the upstream response: " + err.Error())
	}
	rc.Response.Header.Set(routeHeader, rec.Provider)
	s.writeJSON(rc, withRoute(b, rec.Provider))
	return nil
}

// withRoute adds "spillway_route" as the first member of a JSON object
// (or of an object's opening, as the SSE chunk heads are): OpenAI clients
// ignore members they do not know.
func withRoute(obj []byte, route string) []byte {
	if len(obj) < 2 || obj[0] != '{' {
		return obj
	}
	out := make([]byte, 0, len(obj)+len(route)+24)
	out = append(out, `{"spillway_route":`...)
	out = appendJSON(out, route)
	if obj[1] != '}' {
		out = append(out, ',')
	}
	return append(out, obj[1:]...)
}

// fedError maps the federation's refusals and upstream failures to
// OpenAI error documents with federation.HTTPStatus's status.
func fedError(err error) *apiError {
	status := federation.HTTPStatus(err)
	e := &apiError{Status: status, Message: err.Error(), Type: "server_error"}
	switch {
	case errors.Is(err, federation.ErrBudgetExceeded):
		e.Type, e.Code, e.RetryAfter = "requests", "spill_budget_exhausted", 60
	case status == http.StatusBadGateway:
		e.Code = "upstream_error"
	case status == http.StatusGatewayTimeout:
		e.Code = "timeout"
	case status == http.StatusServiceUnavailable:
		e.Code, e.RetryAfter = "no_spill_target", 1
	case status >= 400 && status < 500:
		e.Type = "invalid_request_error"
	}
	return e
}

// adminFederation is GET /admin/federation: the federation's Snapshot
// (providers with breaker states, tenants' spend, routes, recent records).
func (s *Server) adminFederation(rc *fasthttp.RequestCtx, _ *tenantState) error {
	if s.fed == nil {
		return notFound("no federation is configured (spillway serve --federation FILE)", "federation_not_configured")
	}
	return s.sendJSON(rc, s.fed.sp.Snapshot())
}

// remoteCards are the /v1/models entries of remote-only models.
func (s *Server) remoteCards() []modelCard {
	if s.fed == nil {
		return nil
	}
	out := make([]modelCard, 0, len(s.fed.remoteOnly))
	for _, name := range s.fed.remoteOnly {
		if _, err := s.lookup(name); err == nil {
			continue // a local model of that name is listed already
		}
		out = append(out, modelCard{ID: name, Object: "model", Created: s.fed.started.Unix(), OwnedBy: "spillway-federation"})
	}
	return out
}
