package api

import (
	"fmt"
	"strings"

	"spillway/engine/chat"
	"spillway/engine/tokenizer"
)

// maxMessages bounds a conversation; the body limit bounds its bytes.
const maxMessages = 4096

// chatMessages converts the request's messages for the template.
// "developer" is OpenAI's newer name for the system role.
func chatMessages(in []chatMessage) ([]chat.Message, error) {
	if len(in) == 0 {
		return nil, badRequest("messages", "messages must be a non-empty array")
	}
	if len(in) > maxMessages {
		return nil, badRequest("messages", fmt.Sprintf("messages has %d entries, over the limit of %d", len(in), maxMessages))
	}
	out := make([]chat.Message, len(in))
	for i, m := range in {
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		switch role {
		case "system", "user", "assistant", "tool":
		case "":
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), fmt.Sprintf("message %d has no role", i))
		default:
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i),
				fmt.Sprintf("message %d has role %q; expected system, developer, user, assistant or tool", i, m.Role))
		}
		out[i] = chat.Message{Role: role, Content: m.Content.Text}
	}
	return out, nil
}

// chatPrompt renders msgs with the model's template and tokenizes the text
// once, parsing special-token text. The template decides the BOS: the text
// is tokenized without added specials, then the model's BOS is prepended
// only if the model wants one and the template did not already emit it.
// That gives exactly one BOS whether or not the template prints
// {{ bos_token }} (llama.cpp's server strips a leading BOS text for the
// same reason), and never an EOS after the generation prompt.
func chatPrompt(m *Model, msgs []chat.Message, addGenerationPrompt bool) ([]int32, error) {
	if m.Template == nil {
		return nil, badRequest("messages", fmt.Sprintf("model %q has no chat template; use /v1/completions", m.Name))
	}
	text, err := m.Template.Render(msgs, addGenerationPrompt)
	if err != nil {
		if strings.HasPrefix(err.Error(), "chat: message") {
			return nil, badRequest("messages", err.Error())
		}
		return nil, err
	}
	ids := m.Tokenizer.Encode(text, tokenizer.EncodeOptions{AddSpecial: false, ParseSpecial: true})
	return withBOS(m.Tokenizer, ids), nil
}

func withBOS(tok *tokenizer.Tokenizer, ids []int32) []int32 {
	bos := tok.BOS()
	if !tok.AddBOS() || bos < 0 || (len(ids) > 0 && ids[0] == bos) {
		return ids
	}
	out := make([]int32, 0, len(ids)+1)
	return append(append(out, bos), ids...)
}

// completionPrompts tokenizes the completions prompt(s). Text gets the
// model's special tokens (BOS) as vLLM and llama.cpp add them, and a text
// that itself starts with the BOS text does not get a second one. Token
// id prompts are used as given, after a range check.
func completionPrompts(m *Model, in *promptInput) ([][]int32, error) {
	if !in.Set || in.Count() == 0 {
		return nil, badRequest("prompt", "prompt is required")
	}
	if in.Count() > maxChoices {
		return nil, badRequest("prompt", fmt.Sprintf("prompt has %d entries, over the limit of %d", in.Count(), maxChoices))
	}
	vocab := int32(m.Tokenizer.VocabSize())
	var out [][]int32
	for _, text := range in.Texts {
		ids := encodeText(m.Tokenizer, text, true)
		if len(ids) == 0 {
			return nil, badRequest("prompt", "the prompt is empty")
		}
		out = append(out, ids)
	}
	for i, ids := range in.Tokens {
		if len(ids) == 0 {
			return nil, badRequest("prompt", fmt.Sprintf("prompt %d is an empty token array", i))
		}
		for _, id := range ids {
			if id < 0 || id >= vocab {
				return nil, badRequest("prompt", fmt.Sprintf("prompt %d has token id %d, outside the vocabulary [0, %d)", i, id, vocab))
			}
		}
		out = append(out, ids)
	}
	return out, nil
}

// encodeText tokenizes a completion prompt, parsing special-token text. A
// text that starts with the BOS text keeps one BOS, not two.
func encodeText(tok *tokenizer.Tokenizer, text string, addSpecial bool) []int32 {
	ids := tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: addSpecial, ParseSpecial: true})
	if bos := tok.BOS(); addSpecial && tok.AddBOS() && bos >= 0 && len(ids) > 1 && ids[0] == bos && ids[1] == bos {
		ids = ids[1:]
	}
	return ids
}
