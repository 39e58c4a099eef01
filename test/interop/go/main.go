// Interop scenario for the official Go client (github.com/qdrant/go-client) through the proxy over
// TLS. Driven by test/interop/run.sh; the contract (INTEROP_* environment, PASS/FAIL lines) is
// described there. The proxy's CA is trusted through Config.TLSConfig.RootCAs.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintf(os.Stderr, "%s is not set\n", name)
		os.Exit(2)
	}
	return v
}

func envInt(name string) int {
	n, err := strconv.Atoi(env(name))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	return n
}

var (
	coll       = env("INTEROP_COLLECTION")
	other      = env("INTEROP_OTHER_COLLECTION")
	timeout    = time.Duration(envInt("INTEROP_TIMEOUT_MS")) * time.Millisecond
	maxElapsed = time.Duration(envInt("INTEROP_MAX_ELAPSED_MS")) * time.Millisecond
	query      = []float32{0.2, 0.1, 0.9, 0.7}
)

// README: connecting
func newClient(apiKey string) *qdrant.Client {
	pem, err := os.ReadFile(env("INTEROP_CA"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fmt.Fprintln(os.Stderr, "INTEROP_CA: no certificate found")
		os.Exit(2)
	}
	client, err := qdrant.NewClient(&qdrant.Config{
		Host:                   env("INTEROP_HOST"),
		Port:                   envInt("INTEROP_PORT"),
		APIKey:                 apiKey,
		UseTLS:                 true,
		TLSConfig:              &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		SkipCompatibilityCheck: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return client
}
// README: end

func points() []*qdrant.PointStruct {
	vectors := [][]float32{{0.05, 0.61, 0.76, 0.74}, {0.19, 0.81, 0.75, 0.11}, {0.36, 0.55, 0.47, 0.94}}
	cities := []string{"Berlin", "London", "Moscow"}
	out := make([]*qdrant.PointStruct, len(vectors))
	for i := range vectors {
		out[i] = &qdrant.PointStruct{
			Id:      qdrant.NewIDNum(uint64(i + 1)),
			Vectors: qdrant.NewVectors(vectors[i]...),
			Payload: qdrant.NewValueMap(map[string]any{"city": cities[i]}),
		}
	}
	return out
}

// expectCode runs fn, which must fail with gRPC code want; returns "Code message".
func expectCode(want codes.Code, what string, fn func() error) (string, error) {
	err := fn()
	if err == nil {
		return "", fmt.Errorf("%s: expected %v, but it succeeded", what, want)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != want {
		return "", fmt.Errorf("%s: expected %v, got %v", what, want, err)
	}
	var inner interface{ GRPCStatus() *status.Status }
	if errors.As(err, &inner) {
		st = inner.GRPCStatus()
	}
	return fmt.Sprintf("%v %q", st.Code(), st.Message()), nil
}

func step(name string, fn func() (string, error)) {
	detail, err := fn()
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", name, err)
		return
	}
	fmt.Printf("PASS %s: %s\n", name, detail)
}

func search(ctx context.Context, c *qdrant.Client, name string) ([]*qdrant.ScoredPoint, error) {
	return c.Query(ctx, &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuery(query...), Limit: qdrant.PtrOf(uint64(2))})
}

func count(ctx context.Context, c *qdrant.Client, name string) (uint64, error) {
	return c.Count(ctx, &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true)})
}

func main() {
	ctx := context.Background()
	admin := newClient(env("INTEROP_API_KEY"))
	reader := newClient(env("INTEROP_READ_ONLY_KEY"))
	scoped := newClient(env("INTEROP_JWT"))
	defer admin.Close()
	defer reader.Close()
	defer scoped.Close()

	step("full-key", func() (string, error) {
		for _, name := range []string{coll, other} {
			exists, err := admin.CollectionExists(ctx, name)
			if err != nil {
				return "", fmt.Errorf("exists %s: %w", name, err)
			}
			if exists {
				if err := admin.DeleteCollection(ctx, name); err != nil {
					return "", err
				}
			}
			err = admin.CreateCollection(ctx, &qdrant.CreateCollection{
				CollectionName: name,
				VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Cosine}),
			})
			if err != nil {
				return "", fmt.Errorf("create %s: %w", name, err)
			}
		}
		if _, err := admin.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: coll, Wait: qdrant.PtrOf(true), Points: points()}); err != nil {
			return "", fmt.Errorf("upsert: %w", err)
		}
		hits, err := search(ctx, admin, coll)
		if err != nil || len(hits) != 2 {
			return "", fmt.Errorf("query: %d hits, %v (expected 2)", len(hits), err)
		}
		scrolled, err := admin.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: coll, Limit: qdrant.PtrOf(uint32(10)), WithPayload: qdrant.NewWithPayload(true)})
		if err != nil || len(scrolled) != 3 {
			return "", fmt.Errorf("scroll: %d points, %v (expected 3)", len(scrolled), err)
		}
		n, err := count(ctx, admin, coll)
		if err != nil || n != 3 {
			return "", fmt.Errorf("count: %d, %v (expected 3)", n, err)
		}
		names, err := admin.ListCollections(ctx)
		if err != nil || !slices.Contains(names, coll) || !slices.Contains(names, other) {
			return "", fmt.Errorf("list: %v, %v (expected %s and %s)", names, err, coll, other)
		}
		return fmt.Sprintf("created %s and %s, upserted 3, query 2 hits, scroll 3, count 3, list has %d", coll, other, len(names)), nil
	})

	step("read-only-key", func() (string, error) {
		hits, err := search(ctx, reader, coll)
		if err != nil || len(hits) != 2 {
			return "", fmt.Errorf("query: %d hits, %v (expected 2)", len(hits), err)
		}
		denied, err := expectCode(codes.PermissionDenied, "upsert", func() error {
			_, err := reader.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: coll, Wait: qdrant.PtrOf(true), Points: points()[:1]})
			return err
		})
		if err != nil {
			return "", err
		}
		return "query 2 hits; upsert refused: " + denied, nil
	})

	step("collection-jwt", func() (string, error) {
		names, err := scoped.ListCollections(ctx)
		if err != nil || len(names) != 1 || names[0] != coll {
			return "", fmt.Errorf("list: %v, %v (expected only %s)", names, err, coll)
		}
		n, err := count(ctx, scoped, coll)
		if err != nil || n != 3 {
			return "", fmt.Errorf("count %s: %d, %v (expected 3)", coll, n, err)
		}
		denied, err := expectCode(codes.PermissionDenied, "query "+other, func() error {
			_, err := search(ctx, scoped, other)
			return err
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("list = %v; count %s = 3; query %s refused: %s", names, coll, other, denied), nil
	})

	step("deadline", func() (string, error) {
		started := time.Now()
		short, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		got, err := expectCode(codes.DeadlineExceeded, fmt.Sprintf("collection info with %v timeout", timeout), func() error {
			_, err := admin.GetCollectionInfo(short, coll)
			return err
		})
		elapsed := time.Since(started)
		if err != nil {
			return "", err
		}
		if elapsed >= maxElapsed {
			return "", fmt.Errorf("took %v, expected under %v", elapsed, maxElapsed)
		}
		if n, err := count(ctx, admin, coll); err != nil || n != 3 {
			return "", fmt.Errorf("count after the deadline: %d, %v (expected 3)", n, err)
		}
		return fmt.Sprintf("%s after %d ms; the next call works", got, elapsed.Milliseconds()), nil
	})
}
