package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File names of a Hugging Face checkpoint.
const (
	SingleFile = "model.safetensors"
	IndexFile  = "model.safetensors.index.json"
)

// Checkpoint is every tensor of a model directory, from one file or from
// the shards an index names.
type Checkpoint struct {
	dir      string
	files    []*File // sorted by path, each opened once
	tensors  []TensorInfo
	index    map[string]int
	aliases  map[string]string
	metadata map[string]string
}

// OpenCheckpoint opens dir's model.safetensors.index.json and its shards
// or, without an index, dir's model.safetensors.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	idx := filepath.Join(dir, IndexFile)
	data, err := readSmallFile(idx)
	switch {
	case err == nil:
		return openSharded(dir, idx, data)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	single := filepath.Join(dir, SingleFile)
	if _, err := os.Stat(single); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("safetensors: %s holds neither %s nor %s", dir, SingleFile, IndexFile)
	}
	f, err := OpenFile(single)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{dir: dir, files: []*File{f}, tensors: f.tensors, index: f.index,
		aliases: f.aliases, metadata: f.metadata}
	return c, nil
}

// parseIndex decodes an index's weight_map (tensor -> shard file name),
// rejecting duplicate tensors and shard names that leave the directory.
func parseIndex(data []byte) (map[string]string, error) {
	top, err := objectMembers(data)
	if err != nil {
		return nil, err
	}
	var wm json.RawMessage
	for _, m := range top {
		if m.key == "weight_map" {
			wm = m.value
		}
	}
	if isNull(wm) {
		return nil, errors.New("no weight_map")
	}
	members, err := objectMembers(wm)
	if err != nil {
		return nil, fmt.Errorf("weight_map: %v", err)
	}
	if len(members) == 0 {
		return nil, errors.New("weight_map is empty")
	}
	out := make(map[string]string, len(members))
	for _, m := range members {
		var file string
		if err := json.Unmarshal(m.value, &file); err != nil {
			return nil, fmt.Errorf("weight_map[%q]: want a file name string", m.key)
		}
		if m.key == "" {
			return nil, errors.New("weight_map has an empty tensor name")
		}
		if !plainFileName(file) {
			return nil, fmt.Errorf("weight_map[%q]: shard %q is not a plain file name in the model directory", m.key, file)
		}
		out[m.key] = file
	}
	return out, nil
}

// plainFileName rejects paths: an index must not make us open files
// outside the model directory.
func plainFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) &&
		filepath.Base(s) == s && filepath.IsLocal(s)
}

func openSharded(dir, idxPath string, data []byte) (*Checkpoint, error) {
	wm, err := parseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %v", idxPath, err)
	}
	c := &Checkpoint{dir: dir, aliases: map[string]string{}, metadata: map[string]string{}}
	byShard, err := c.openShards(dir, wm)
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.collect(wm, byShard); err != nil {
		c.Close()
		return nil, fmt.Errorf("safetensors: %s: %v", idxPath, err)
	}
	return c, nil
}

// openShards opens each distinct shard once, in name order, and merges
// their metadata with earlier shards winning.
func (c *Checkpoint) openShards(dir string, wm map[string]string) (map[string]*File, error) {
	var names []string
	byShard := map[string]*File{}
	for _, s := range wm {
		if _, ok := byShard[s]; !ok {
			byShard[s] = nil
			names = append(names, s)
		}
	}
	sort.Strings(names)
	for _, s := range names {
		f, err := OpenFile(filepath.Join(dir, s))
		if err != nil {
			return nil, err
		}
		byShard[s] = f
		c.files = append(c.files, f)
		for k, v := range f.metadata {
			if _, ok := c.metadata[k]; !ok {
				c.metadata[k] = v
			}
		}
	}
	return byShard, nil
}

// collect builds the tensor table from the index: each listed tensor must
// be stored (or aliased) in its shard. Tensors a shard holds but the index
// does not list are ignored, as the index is the checkpoint's table of
// contents.
func (c *Checkpoint) collect(wm map[string]string, byShard map[string]*File) error {
	names := make([]string, 0, len(wm))
	for n := range wm {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := byShard[wm[n]]
		if i, ok := f.index[n]; ok {
			c.tensors = append(c.tensors, f.tensors[i])
			continue
		}
		if target, ok := f.aliases[n]; ok {
			c.aliases[n] = target
			continue
		}
		return fmt.Errorf("tensor %q is listed in the index but missing from shard %s", n, f.name)
	}
	c.index = make(map[string]int, len(c.tensors))
	for i, t := range c.tensors {
		c.index[t.Name] = i
	}
	for a, target := range c.aliases {
		if _, ok := c.index[target]; !ok {
			return fmt.Errorf("tensor %q is an alias of %q, which the index does not list", a, target)
		}
	}
	for _, f := range c.files {
		for a, target := range f.aliases {
			_, stored := c.index[a]
			if _, ok := c.index[target]; ok && !stored {
				c.aliases[a] = target
			}
		}
	}
	return nil
}

// Dir is the model directory.
func (c *Checkpoint) Dir() string { return c.dir }

// Files lists the safetensors files in use, sorted.
func (c *Checkpoint) Files() []string {
	out := make([]string, len(c.files))
	for i, f := range c.files {
		out[i] = f.name
	}
	return out
}

// Tensors returns the stored tensors sorted by name (aliases excluded).
func (c *Checkpoint) Tensors() []TensorInfo { return cloneInfos(c.tensors) }

// Tensor looks a tensor up by name, following aliases (see File.Tensor).
func (c *Checkpoint) Tensor(name string) (*TensorInfo, bool) {
	i, ok := c.index[name]
	if !ok {
		if i, ok = c.index[c.aliases[name]]; !ok {
			return nil, false
		}
	}
	t := cloneInfo(c.tensors[i])
	return &t, true
}

// Metadata is the __metadata__ of the shards merged, the first shard (by
// file name) winning on conflicting keys.
func (c *Checkpoint) Metadata() map[string]string { return cloneMap(c.metadata) }

// Aliases returns alias -> stored-name pairs (e.g. a tied embedding).
func (c *Checkpoint) Aliases() map[string]string { return cloneMap(c.aliases) }

// TotalBytes is the size of all stored tensor data.
func (c *Checkpoint) TotalBytes() int64 {
	var n int64
	for _, t := range c.tensors {
		n += int64(len(t.Data))
	}
	return n
}

// Close unmaps every shard; all Data views become invalid.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	c.files, c.tensors, c.index, c.aliases = nil, nil, nil, nil
	return errors.Join(errs...)
}
