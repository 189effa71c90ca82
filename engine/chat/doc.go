// Package chat turns an OpenAI-style conversation into prompt text with the
// model's own Jinja chat template (GGUF tokenizer.chat_template or
// tokenizer_config.json chat_template), the way Hugging Face transformers'
// apply_chat_template does, with builtin templates for models that ship
// none.
//
// The Jinja engine is github.com/nikolalohinski/gonja/v2, configured and
// patched where it departs from Jinja2 in ways chat templates notice:
// lstrip_blocks is applied to the source by us (lstrip.go), tojson is
// Python's json.dumps (pyjson.go), and a dozen str and dict methods,
// subscripts, the items and dictsort filters and the % and ** operators
// follow CPython (pystr.go, pyops.go). gonja renders the tested templates
// byte-exact with these; without them it would not (it strips spaces
// before same-line tags, fails on 'x'.strip(), indexes strings by byte).
//
// Invariants:
//
//   - Render is byte-identical to transformers (Jinja2 3.1 with trim_blocks,
//     lstrip_blocks, loopcontrols, raise_exception, strftime_now and its
//     tojson) for every template in testdata/templates and every feature in
//     testdata/snippets.json; the goldens come from real Jinja2 through
//     testdata/gen_golden.py, never from this package.
//   - The template sees messages (a list of {role, content} dicts in that
//     key order), add_generation_prompt, tools and documents (None),
//     bos_token and eos_token (left undefined when empty, as transformers
//     leaves out a None token), raise_exception and strftime_now.
//   - A Template is immutable after New and safe for concurrent Render.
//   - No input panics, hangs or exhausts memory: sources are size- and
//     nesting-checked, gonja's parser is guarded by recover, and every
//     Render is bounded in time, loop steps, macro depth, range and loop
//     length, bytes of built strings and output bytes (limits.go). A
//     template cannot include, import or extend anything.
//   - Errors say what went wrong: *SyntaxError (with line and column) from
//     New, *RaisedError carrying the template's own raise_exception message,
//     *LimitError when a bound stopped the render, and otherwise one line
//     naming gonja's cause. Unknown roles and empty conversations are
//     refused before the template runs.
//
// Known differences from Jinja2, none of which the tested templates hit:
// {{ none }} prints "" (gonja does not tell None from undefined); dicts
// that come from Go maps iterate in sorted key order (messages and dict
// literals keep their order); the "-" whitespace control strips ASCII
// whitespace only; and strings built by the template are limited in size.
package chat
