// Interop scenario for the official Java client (io.qdrant:client) through the proxy over TLS.
// Driven by test/interop/run.sh; the contract (INTEROP_* environment, PASS/FAIL lines) is described
// there. The client gets a grpc-netty-shaded channel whose SslContext trusts the proxy's CA.
package interop;

import static io.qdrant.client.PointIdFactory.id;
import static io.qdrant.client.ValueFactory.value;
import static io.qdrant.client.VectorsFactory.vectors;
import static io.qdrant.client.WithPayloadSelectorFactory.enable;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.qdrant.client.QdrantClient;
import io.qdrant.client.QdrantGrpcClient;
import io.qdrant.client.grpc.Collections.Distance;
import io.qdrant.client.grpc.Collections.VectorParams;
import io.qdrant.client.grpc.Points.PointStruct;
import io.qdrant.client.grpc.Points.ScoredPoint;
import io.qdrant.client.grpc.Points.ScrollPoints;
import io.qdrant.client.grpc.Points.SearchPoints;
import io.qdrant.client.grpc.Points.UpsertPoints;
import java.io.File;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

public final class Interop {
  private static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      System.err.println(name + " is not set");
      System.exit(2);
    }
    return v;
  }

  private static final String COLL = env("INTEROP_COLLECTION");
  private static final String OTHER = env("INTEROP_OTHER_COLLECTION");
  private static final Duration TIMEOUT = Duration.ofMillis(Long.parseLong(env("INTEROP_TIMEOUT_MS")));
  private static final long MAX_ELAPSED_MS = Long.parseLong(env("INTEROP_MAX_ELAPSED_MS"));
  private static final List<Float> QUERY = List.of(0.2f, 0.1f, 0.9f, 0.7f);

  private static final class StepFailed extends Exception {
    StepFailed(String message) {
      super(message);
    }
  }

  private interface Step {
    String run() throws Exception;
  }

  // README: connecting
  private static QdrantClient client(String apiKey) throws Exception {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(env("INTEROP_HOST"), Integer.parseInt(env("INTEROP_PORT")))
            .sslContext(GrpcSslContexts.forClient().trustManager(new File(env("INTEROP_CA"))).build())
            .build();
    // (channel, shutdownChannelOnClose, checkCompatibility)
    return new QdrantClient(QdrantGrpcClient.newBuilder(channel, true, false).withApiKey(apiKey).build());
  }
  // README: end

  private static List<PointStruct> points() {
    float[][] vs = {{0.05f, 0.61f, 0.76f, 0.74f}, {0.19f, 0.81f, 0.75f, 0.11f}, {0.36f, 0.55f, 0.47f, 0.94f}};
    String[] cities = {"Berlin", "London", "Moscow"};
    List<PointStruct> out = new ArrayList<>();
    for (int i = 0; i < vs.length; i++) {
      out.add(
          PointStruct.newBuilder()
              .setId(id(i + 1))
              .setVectors(vectors(vs[i]))
              .putAllPayload(Map.of("city", value(cities[i])))
              .build());
    }
    return out;
  }

  private static <T> T get(Future<T> f) throws Exception {
    try {
      return f.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception ? (Exception) e.getCause() : e;
    }
  }

  private static void check(boolean cond, String what) throws StepFailed {
    if (!cond) throw new StepFailed(what);
  }

  /** Runs step, which must fail with gRPC code; returns "CODE message". */
  private static String expectCode(Status.Code code, String what, Step step) throws Exception {
    try {
      step.run();
    } catch (Exception e) {
      Status s = Status.fromThrowable(e);
      if (s.getCode() != code) throw new StepFailed(what + ": expected " + code + ", got " + s.getCode() + " " + s.getDescription());
      return s.getCode() + " \"" + s.getDescription() + "\"";
    }
    throw new StepFailed(what + ": expected " + code + ", but it succeeded");
  }

  private static void step(String name, Step step) {
    try {
      System.out.println("PASS " + name + ": " + step.run());
    } catch (StepFailed e) {
      System.out.println("FAIL " + name + ": " + e.getMessage());
    } catch (Exception e) {
      Status s = Status.fromThrowable(e);
      String detail = s.getCode() != Status.Code.UNKNOWN ? s.getCode() + " " + s.getDescription() : e.toString();
      System.out.println("FAIL " + name + ": " + detail);
    }
    System.out.flush();
  }

  private static List<ScoredPoint> search(QdrantClient c, String name) throws Exception {
    return get(c.searchAsync(SearchPoints.newBuilder().setCollectionName(name).addAllVector(QUERY).setLimit(2).build()));
  }

  public static void main(String[] args) throws Exception {
    QdrantClient admin = client(env("INTEROP_API_KEY"));
    QdrantClient reader = client(env("INTEROP_READ_ONLY_KEY"));
    QdrantClient scoped = client(env("INTEROP_JWT"));

    step("full-key", () -> {
      for (String name : List.of(COLL, OTHER)) {
        if (get(admin.collectionExistsAsync(name))) get(admin.deleteCollectionAsync(name));
        var created = get(admin.createCollectionAsync(name, VectorParams.newBuilder().setSize(4).setDistance(Distance.Cosine).build()));
        check(created.getResult(), "create " + name + ": result false");
      }
      get(admin.upsertAsync(UpsertPoints.newBuilder().setCollectionName(COLL).setWait(true).addAllPoints(points()).build()));
      int hits = search(admin, COLL).size();
      check(hits == 2, "search: " + hits + " hits, expected 2");
      int scrolled = get(admin.scrollAsync(ScrollPoints.newBuilder().setCollectionName(COLL).setLimit(10).setWithPayload(enable(true)).build())).getResultCount();
      check(scrolled == 3, "scroll: " + scrolled + " points, expected 3");
      long count = get(admin.countAsync(COLL, null, true));
      check(count == 3, "count: " + count + ", expected 3");
      List<String> names = get(admin.listCollectionsAsync());
      check(names.contains(COLL) && names.contains(OTHER), "list: " + names + " lacks " + COLL + " or " + OTHER);
      return "created " + COLL + " and " + OTHER + ", upserted 3, search 2 hits, scroll 3, count 3, list has " + names.size();
    });

    step("read-only-key", () -> {
      int hits = search(reader, COLL).size();
      check(hits == 2, "search: " + hits + " hits, expected 2");
      String denied = expectCode(Status.Code.PERMISSION_DENIED, "upsert", () ->
          get(reader.upsertAsync(UpsertPoints.newBuilder().setCollectionName(COLL).setWait(true).addPoints(points().get(0)).build())).toString());
      return "search 2 hits; upsert refused: " + denied;
    });

    step("collection-jwt", () -> {
      List<String> names = get(scoped.listCollectionsAsync());
      check(names.equals(List.of(COLL)), "list: " + names + ", expected only " + COLL);
      long count = get(scoped.countAsync(COLL, null, true));
      check(count == 3, "count " + COLL + ": " + count + ", expected 3");
      String denied = expectCode(Status.Code.PERMISSION_DENIED, "search " + OTHER, () -> search(scoped, OTHER).toString());
      return "list = " + names + "; count " + COLL + " = 3; search " + OTHER + " refused: " + denied;
    });

    step("deadline", () -> {
      long started = System.nanoTime();
      String got = expectCode(Status.Code.DEADLINE_EXCEEDED, "collection info with a " + TIMEOUT.toMillis() + " ms timeout", () ->
          get(admin.getCollectionInfoAsync(COLL, TIMEOUT)).toString());
      long elapsed = (System.nanoTime() - started) / 1_000_000;
      check(elapsed < MAX_ELAPSED_MS, "took " + elapsed + " ms, expected under " + MAX_ELAPSED_MS + " ms");
      long count = get(admin.countAsync(COLL, null, true));
      check(count == 3, "count after the deadline: " + count + ", expected 3");
      return got + " after " + elapsed + " ms; the next call works";
    });

    admin.close();
    reader.close();
    scoped.close();
  }
}
