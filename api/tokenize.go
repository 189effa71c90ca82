package api

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"spillway/engine/tokenizer"
)

// tokenizeRequest is vLLM's POST /tokenize: a prompt, or chat messages
// rendered with the model's template exactly as /v1/chat/completions
// renders them.
type tokenizeRequest struct {
	Model               string        `json:"model"`
	Prompt              *string       `json:"prompt"`
	Messages            []chatMessage `json:"messages"`
	AddSpecialTokens    *bool         `json:"add_special_tokens"`
	AddGenerationPrompt *bool         `json:"add_generation_prompt"`
	ReturnTokenStrs     bool          `json:"return_token_strs"`
}

type tokenizeResponse struct {
	Count       int      `json:"count"`
	MaxModelLen int      `json:"max_model_len"`
	Tokens      []int32  `json:"tokens"`
	TokenStrs   []string `json:"token_strs"`
}

func (s *Server) tokenize(rc *fasthttp.RequestCtx, t *tenantState) error {
	if err := t.admitRequest(); err != nil {
		return err
	}
	var req tokenizeRequest
	if err := readJSON(rc, &req); err != nil {
		return err
	}
	m, err := s.lookup(req.Model)
	if err != nil {
		return err
	}
	var ids []int32
	switch {
	case req.Prompt != nil && req.Messages != nil:
		return badRequest("messages", "give either prompt or messages, not both")
	case req.Prompt != nil:
		special := req.AddSpecialTokens == nil || *req.AddSpecialTokens
		ids = encodeText(m.Tokenizer, *req.Prompt, special)
	default:
		msgs, err := chatMessages(req.Messages)
		if err != nil {
			return err
		}
		if ids, err = chatPrompt(m, msgs, req.AddGenerationPrompt == nil || *req.AddGenerationPrompt); err != nil {
			return err
		}
	}
	resp := tokenizeResponse{Count: len(ids), MaxModelLen: m.ContextLen, Tokens: ids}
	if resp.Tokens == nil {
		resp.Tokens = []int32{}
	}
	if req.ReturnTokenStrs {
		for _, id := range ids {
			text, _ := m.tokenText(id)
			resp.TokenStrs = append(resp.TokenStrs, text)
		}
	}
	return s.sendJSON(rc, resp)
}

type detokenizeRequest struct {
	Model  string  `json:"model"`
	Tokens []int32 `json:"tokens"`
}

func (s *Server) detokenize(rc *fasthttp.RequestCtx, t *tenantState) error {
	if err := t.admitRequest(); err != nil {
		return err
	}
	var req detokenizeRequest
	if err := readJSON(rc, &req); err != nil {
		return err
	}
	m, err := s.lookup(req.Model)
	if err != nil {
		return err
	}
	if req.Tokens == nil {
		return badRequest("tokens", "tokens must be an array of token ids")
	}
	vocab := int32(m.Tokenizer.VocabSize())
	for _, id := range req.Tokens {
		if id < 0 || id >= vocab {
			return badRequest("tokens", fmt.Sprintf("token id %d is outside the vocabulary [0, %d)", id, vocab))
		}
	}
	text := m.Tokenizer.DecodeWith(req.Tokens, tokenizer.DecodeOptions{})
	return s.sendJSON(rc, map[string]string{"prompt": strings.ToValidUTF8(text, "\uFFFD")})
}

func (s *Server) listModels(rc *fasthttp.RequestCtx, _ *tenantState) error {
	list := modelList{Object: "list", Data: []modelCard{}}
	for _, m := range s.modelList() {
		list.Data = append(list.Data, card(m))
	}
	list.Data = append(list.Data, s.remoteCards()...)
	return s.sendJSON(rc, list)
}

// getModel is GET /v1/models/{id}.
func (s *Server) getModel(rc *fasthttp.RequestCtx, _ *tenantState) error {
	name := string(rc.Path()[len("/v1/models/"):])
	for _, c := range s.remoteCards() {
		if c.ID == name {
			return s.sendJSON(rc, c)
		}
	}
	m, err := s.lookup(name)
	if err != nil || name == "" {
		return notFound(fmt.Sprintf("The model '%s' does not exist or you do not have access to it.", name), "model_not_found")
	}
	return s.sendJSON(rc, card(m))
}

func card(m *Model) modelCard {
	owner := m.OwnedBy
	if owner == "" {
		owner = "spillway"
	}
	return modelCard{ID: m.Name, Object: "model", Created: m.Created.Unix(), OwnedBy: owner, MaxModelLen: m.ContextLen}
}

// sendJSON marshals v and writes it as a 200.
func (s *Server) sendJSON(rc *fasthttp.RequestCtx, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return serverError("encoding the response: " + err.Error())
	}
	s.writeJSON(rc, b)
	return nil
}
