// Command check validates ogrom's Dockerfile and docker-compose.yml offline, with the
// libraries that Docker itself uses: BuildKit's Dockerfile frontend (the code behind
// `docker build --check`) and compose-go (the loader behind `docker compose config`).
// No Docker engine, registry or network is needed: base images are not pulled; their
// configuration is stubbed as empty, so only the Dockerfile's own text is judged.
//
//	check dockerfile PATH     parse, convert every stage to LLB, run the lint rules, and
//	                          check that every COPY source is in the build context that
//	                          .dockerignore (beside the Dockerfile) lets through
//	check compose PATH        load, interpolate and validate against the Compose schema
//
// It exits 1 on any error or lint warning, and prints what it checked. scripts/validate-deploy
// builds and runs it; it is not part of the gateway.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: check dockerfile|compose PATH")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "dockerfile":
		err = checkDockerfile(os.Args[2])
	case "compose":
		err = checkCompose(os.Args[2])
	default:
		err = fmt.Errorf("unknown check %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", os.Args[2], err)
		os.Exit(1)
	}
}

// emptyImages answers every base-image lookup with an empty linux/amd64 image, so the
// frontend converts the Dockerfile without a registry; it records the names asked for.
type emptyImages struct{ refs map[string]bool }

func (e emptyImages) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	e.refs[ref] = true
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}}`)
	return ref, digest.FromBytes(config), config, nil
}

func checkDockerfile(path string) error {
	dt, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// The parser and the instruction checks alone, for a summary of the stages.
	ast, err := parser.Parse(strings.NewReader(string(dt)))
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return fmt.Errorf("instructions: %w", err)
	}
	// The whole frontend, as `docker build --check` runs it: every stage converted to LLB
	// (stage references, COPY --from, mounts, heredocs, ARG expansion) and every lint rule.
	ctx := context.Background()
	images := emptyImages{refs: map[string]bool{}}
	src := llb.Local("dockerfile")
	definition, err := src.Marshal(ctx)
	if err != nil {
		return err
	}
	sourceMap := llb.NewSourceMap(&src, filepath.Base(path), "Dockerfile", dt)
	sourceMap.Definition = definition
	results, err := dockerfile2llb.DockerfileLint(ctx, dt, dockerfile2llb.ConvertOpt{
		SourceMap:    sourceMap,
		MetaResolver: images,
	})
	if err != nil {
		return err
	}
	problems := 0
	for _, w := range results.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		fmt.Fprintf(os.Stderr, "%s:%d: %s: %s (%s)\n", path, line, w.RuleName, w.Detail, w.URL)
		problems++
	}
	if results.Error != nil {
		line := 0
		if len(results.Error.Location.Ranges) > 0 {
			line = int(results.Error.Location.Ranges[0].Start.Line)
		}
		return fmt.Errorf("line %d: %s", line, results.Error.Message)
	}
	if problems > 0 {
		return fmt.Errorf("%d lint warning(s)", problems)
	}
	contextSummary, err := checkContext(filepath.Dir(path), stages)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(stages))
	for _, s := range stages {
		name := s.Name
		if name == "" {
			name = "(unnamed)"
		}
		names = append(names, fmt.Sprintf("%s FROM %s", name, s.BaseName))
	}
	bases := make([]string, 0, len(images.refs))
	for ref := range images.refs {
		if named, err := reference.ParseNormalizedNamed(ref); err == nil {
			ref = reference.FamiliarString(named)
		}
		bases = append(bases, ref)
	}
	sort.Strings(bases)
	fmt.Printf("ok   %s: %d stages (%s) converted to LLB, no lint warnings; base images (not pulled): %s; %s\n",
		path, len(stages), strings.Join(names, "; "), strings.Join(bases, ", "), contextSummary)
	return nil
}

// checkContext applies .dockerignore as the builder does and checks that every source of a
// COPY or ADD from the build context is there and let through; it sums up the context.
func checkContext(dir string, stages []instructions.Stage) (string, error) {
	var patterns []string
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf(".dockerignore: %w", err)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return "", fmt.Errorf(".dockerignore: %w", err)
	}
	excluded := func(rel string) bool {
		m, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		return err != nil || m
	}
	// Walks a context path, calling fn for every file that reaches the builder.
	walk := func(root string, fn func(rel string, size int64)) error {
		return filepath.WalkDir(filepath.Join(dir, root), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			if d.IsDir() {
				// Skip excluded folders that no `!` pattern reaches into.
				if rel != "." && excluded(rel) {
					reopened := false
					for _, pat := range pm.Patterns() {
						if pat.Exclusion() && strings.HasPrefix(pat.String(), filepath.ToSlash(rel)+"/") {
							reopened = true
						}
					}
					if !reopened {
						return fs.SkipDir
					}
				}
				return nil
			}
			if rel != "." && !excluded(rel) {
				info, err := d.Info()
				if err != nil {
					return err
				}
				fn(rel, info.Size())
			}
			return nil
		})
	}
	for _, stage := range stages {
		for _, cmd := range stage.Commands {
			var sources []string
			switch c := cmd.(type) {
			case *instructions.CopyCommand:
				if c.From == "" {
					sources = c.SourcePaths
				}
			case *instructions.AddCommand:
				sources = c.SourcePaths
			}
			for _, src := range sources {
				if strings.Contains(src, "://") || strings.Contains(src, "$") {
					continue
				}
				matches, _ := filepath.Glob(filepath.Join(dir, src))
				files := 0
				for _, m := range matches {
					rel, _ := filepath.Rel(dir, m)
					if err := walk(rel, func(string, int64) { files++ }); err != nil {
						return "", err
					}
				}
				if files == 0 {
					return "", fmt.Errorf("line %d: COPY source %q is missing from the build context, or .dockerignore leaves it out",
						cmd.Location()[0].Start.Line, src)
				}
			}
		}
	}
	var count int
	var size int64
	if err := walk(".", func(_ string, n int64) { count++; size += n }); err != nil {
		return "", err
	}
	return fmt.Sprintf("build context %d files, %.1f MB, every COPY source in it", count, float64(size)/1e6), nil
}

func checkCompose(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	// No OS environment: the file must stand on its own defaults.
	options, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithName("ogrom"),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	names := make([]string, 0, len(project.Services))
	for name, s := range project.Services {
		deps := make([]string, 0, len(s.DependsOn))
		for dep, d := range s.DependsOn {
			deps = append(deps, dep+":"+d.Condition)
		}
		sort.Strings(deps)
		entry := name
		if len(deps) > 0 {
			entry += " <- " + strings.Join(deps, ",")
		}
		names = append(names, entry)
	}
	sort.Strings(names)
	if os.Getenv("CHECK_PRINT") != "" {
		out, _ := json.MarshalIndent(project, "", "  ")
		fmt.Println(string(out))
	}
	fmt.Printf("ok   %s: %d services: %s\n", path, len(project.Services), strings.Join(names, "; "))
	return nil
}
