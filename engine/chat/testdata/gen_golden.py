#!/usr/bin/env python3
"""Regenerate the golden chat-template renderings under testdata/golden/.

The Go tests never run this script; they compare against the files it wrote.
Run it from anywhere after changing cases.json or a template:

    python3 engine/chat/testdata/gen_golden.py

It needs only jinja2 (3.1.x), and it mirrors the environment that Hugging Face
transformers builds in apply_chat_template (utils/chat_template_utils.py):
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the
loopcontrols extension and the {% generation %} tag, a `tojson` filter that does not escape non-ASCII or
HTML, and the globals `raise_exception` and `strftime_now`. Render arguments
are messages, tools=None, documents=None, add_generation_prompt and the
special tokens; transformers leaves a token out when it is None, and so do we
for an empty token in cases.json.

strftime_now reads a pinned clock ("now" in cases.json) so that the goldens
are stable; the Go test pins the same instant.

For each template T and conversation C it writes golden/T/C.txt (the exact
prompt bytes) or, when rendering raises, golden/T/C.err: a JSON object with
"kind" ("raise_exception" when the template itself called raise_exception,
"syntax" when it does not compile, otherwise "other") and "message".

snippets.json holds small templates that each exercise a Jinja feature
real chat templates lean on; they render against the "system-multi"
conversation with bos <s> and eos </s>, into golden/snippets/NAME.txt|.err.
"""

import datetime
import json
import os
import shutil
import sys

import jinja2
from jinja2.exceptions import TemplateError, TemplateSyntaxError
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))


class RaisedByTemplate(TemplateError):
    """What raise_exception throws, so we can tell it from engine errors."""


class GenerationTag(Extension):
    """{% generation %}...{% endgeneration %}, which transformers' own
    extension (AssistantTracker) renders as its body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_body", [], [], None, None)
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def make_env(now):
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols, GenerationTag])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def template_source(name):
    if name.startswith("builtin-"):
        path = os.path.join(HERE, "..", "builtin", name[len("builtin-"):] + ".jinja")
    else:
        path = os.path.join(HERE, "templates", name + ".jinja")
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def render(env, source, tmpl, conv):
    kwargs = {
        "messages": conv["messages"],
        "tools": None,
        "documents": None,
        "add_generation_prompt": conv["add_generation_prompt"],
    }
    for key, tok in (("bos_token", tmpl["bos"]), ("eos_token", tmpl["eos"])):
        if tok:
            kwargs[key] = tok
    return env.from_string(source).render(**kwargs)


def write_outcome(base, fn):
    """Write base.txt with fn()'s text, or base.err describing its failure."""
    try:
        text = fn()
    except Exception as e:  # every failure is a golden outcome too
        if isinstance(e, RaisedByTemplate):
            kind = "raise_exception"
        elif isinstance(e, TemplateSyntaxError):
            kind = "syntax"
        else:
            kind = "other"
        with open(base + ".err", "w", encoding="utf-8", newline="") as f:
            json.dump({"kind": kind, "message": str(e)}, f, ensure_ascii=False)
            f.write("\n")
        return "err"
    with open(base + ".txt", "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return "txt"


def main():
    with open(os.path.join(HERE, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    now = datetime.datetime.fromisoformat(cases["now"])
    env = make_env(now)
    out_root = os.path.join(HERE, "golden")
    shutil.rmtree(out_root, ignore_errors=True)
    counts = {"txt": 0, "err": 0}
    for tmpl in cases["templates"]:
        source = template_source(tmpl["name"])
        out_dir = os.path.join(out_root, tmpl["name"])
        os.makedirs(out_dir)
        for conv in cases["conversations"]:
            base = os.path.join(out_dir, conv["name"])
            counts[write_outcome(base, lambda: render(env, source, tmpl, conv))] += 1
    with open(os.path.join(HERE, "snippets.json"), encoding="utf-8") as f:
        snippets = json.load(f)
    conv = next(c for c in cases["conversations"] if c["name"] == "system-multi")
    tmpl = {"bos": "<s>", "eos": "</s>"}
    out_dir = os.path.join(out_root, "snippets")
    os.makedirs(out_dir)
    for snip in snippets:
        base = os.path.join(out_dir, snip["name"])
        counts[write_outcome(base, lambda: render(env, snip["source"], tmpl, conv))] += 1
    print("jinja2 %s: wrote %d renderings and %d errors under %s"
          % (jinja2.__version__, counts["txt"], counts["err"], out_root), file=sys.stderr)


if __name__ == "__main__":
    main()
