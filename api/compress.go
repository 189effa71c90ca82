package api

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"
)

// Response compression for JSON documents (never for streams: each SSE
// event must reach the client when it is written).

var (
	gzipPool = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return w
	}}
	// zstdEnc is shared: EncodeAll is safe for concurrent use.
	zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
)

// pickEncoding chooses zstd or gzip from an Accept-Encoding header, ""
// for identity. A coding with q=0 is refused; "*" accepts either.
func pickEncoding(header []byte) string {
	if len(header) == 0 {
		return ""
	}
	accept := map[string]bool{}
	for _, part := range strings.Split(string(header), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		accept[name] = !zeroQ(params)
	}
	for _, enc := range []string{"zstd", "gzip"} {
		if ok, listed := accept[enc]; listed {
			if ok {
				return enc
			}
			continue
		}
		if accept["*"] {
			return enc
		}
	}
	return ""
}

// zeroQ reports whether parameters carry q=0 (the coding is refused).
func zeroQ(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}

func compressBody(enc string, body []byte) ([]byte, bool) {
	switch enc {
	case "zstd":
		return zstdEnc.EncodeAll(body, make([]byte, 0, len(body)/2)), true
	case "gzip":
		var buf bytes.Buffer
		w := gzipPool.Get().(*gzip.Writer)
		defer gzipPool.Put(w)
		w.Reset(&buf)
		if _, err := w.Write(body); err != nil {
			return nil, false
		}
		if err := w.Close(); err != nil {
			return nil, false
		}
		return buf.Bytes(), true
	}
	return nil, false
}

// writeJSON sends a 200 JSON body, compressed when the client accepts a
// coding we have and the body is big enough for it to pay.
func (s *Server) writeJSON(rc *fasthttp.RequestCtx, body []byte) {
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType("application/json")
	rc.Response.Header.Add("Vary", "Accept-Encoding")
	if len(body) >= s.cfg.CompressMinBytes {
		if enc := pickEncoding(rc.Request.Header.Peek("Accept-Encoding")); enc != "" {
			if z, ok := compressBody(enc, body); ok {
				rc.Response.Header.Set("Content-Encoding", enc)
				body = z
			}
		}
	}
	rc.SetBody(body)
}
