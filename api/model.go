package api

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"spillway/engine/chat"
	"spillway/engine/model"
	"spillway/engine/tokenizer"
	"spillway/scheduler"
)

// Generator runs generation requests for one model: the scheduler in
// production, a fake in tests.
type Generator interface {
	// Submit admits r; the channel carries r's events and is closed after
	// the last one. Cancelling ctx aborts r. Errors: scheduler.ErrSaturated,
	// scheduler.ErrClosed, *scheduler.TooLongError.
	Submit(ctx context.Context, r *scheduler.Request) (<-chan scheduler.Event, error)
	// Snapshot is the generator's state for /metrics.
	Snapshot() scheduler.Snapshot
}

// Model is one served model.
type Model struct {
	Name       string // the id clients put in "model"
	Tokenizer  *tokenizer.Tokenizer
	Template   *chat.Template // renders chat messages into the prompt text
	ContextLen int            // prompt plus completion tokens, at most
	Gen        Generator
	Created    time.Time // "created" in /v1/models; zero = when added
	OwnedBy    string    // "owned_by" in /v1/models; "" = "spillway"
}

// FromDescription builds a Model from a loaded model description: its
// tokenizer, its chat template (or the builtin fallback chat.ForModel picks)
// and its context length.
func FromDescription(name string, d *model.Description, gen Generator) (*Model, error) {
	if d == nil || d.Tokenizer == nil {
		return nil, errors.New("api: model description has no tokenizer")
	}
	tmpl, err := chat.ForModel(d.ChatTemplate, d.BOSText, d.EOSText, d.Config.Arch)
	if err != nil {
		return nil, fmt.Errorf("api: model %q: chat template: %w", name, err)
	}
	return &Model{Name: name, Tokenizer: d.Tokenizer, Template: tmpl, ContextLen: d.Config.ContextLen, Gen: gen}, nil
}

func (m *Model) check() error {
	switch {
	case m == nil:
		return errors.New("api: nil model")
	case m.Name == "":
		return errors.New("api: model has no name")
	case m.Tokenizer == nil:
		return fmt.Errorf("api: model %q has no tokenizer", m.Name)
	case m.Gen == nil:
		return fmt.Errorf("api: model %q has no generator", m.Name)
	case m.ContextLen <= 0:
		return fmt.Errorf("api: model %q has context length %d", m.Name, m.ContextLen)
	}
	return nil
}

// ExpectModels declares models that are still loading: /health answers
// 503 until each has been added, and requests naming one get a 503 that
// says it is loading rather than a 404.
func (s *Server) ExpectModels(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if _, ok := s.models[n]; !ok {
			s.loading[n] = true
		}
	}
}

// AddModel makes m servable. A name can be added once.
func (s *Server) AddModel(m *Model) error {
	if err := m.check(); err != nil {
		return err
	}
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.models[m.Name]; dup {
		return fmt.Errorf("api: model %q added twice", m.Name)
	}
	s.models[m.Name] = m
	delete(s.loading, m.Name)
	s.metrics.addModel(m)
	return nil
}

// FailModel records that a model could not be loaded: /health reports the
// failure instead of waiting forever.
func (s *Server) FailModel(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.loading, name)
	s.failed[name] = err.Error()
}

// lookup finds the model a request names. With one model served, an empty
// name means that model, as single-model servers such as llama.cpp's do.
func (s *Server) lookup(name string) (*Model, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m, ok := s.models[name]; ok {
		return m, nil
	}
	if name == "" && len(s.models) == 1 && len(s.loading) == 0 {
		for _, m := range s.models {
			return m, nil
		}
	}
	if s.loading[name] {
		return nil, unavailable(fmt.Sprintf("the model '%s' is still loading; retry shortly", name), "model_loading")
	}
	if name == "" {
		return nil, badRequest("model", "you must provide a model parameter")
	}
	return nil, notFound(fmt.Sprintf("The model '%s' does not exist or you do not have access to it.", name), "model_not_found")
}

// modelList returns the ready models sorted by name.
func (s *Server) modelList() []*Model {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Model, 0, len(s.models))
	for _, m := range s.models {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
