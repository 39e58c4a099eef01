//! Interop scenario for the official Rust client (qdrant-client) through the proxy over TLS.
//! Driven by test/interop/run.sh; the contract (INTEROP_* environment, PASS/FAIL lines) is
//! described there. qdrant-client builds its TLS config with tonic's native roots
//! (rustls-native-certs), which run.sh points at the proxy's CA through SSL_CERT_FILE.
use std::future::Future;
use std::time::{Duration, Instant};

use qdrant_client::qdrant::{
    CountPointsBuilder, CreateCollectionBuilder, Distance, PointStruct, ScrollPointsBuilder,
    SearchPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use tonic::Code;

type StepResult = Result<String, String>;

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => {
            eprintln!("{name} is not set");
            std::process::exit(2)
        }
    }
}

fn env_ms(name: &str) -> Duration {
    Duration::from_millis(env(name).parse().unwrap_or_else(|e| {
        eprintln!("{name}: {e}");
        std::process::exit(2)
    }))
}

const QUERY: [f32; 4] = [0.2, 0.1, 0.9, 0.7];

fn url() -> String {
    format!("https://{}:{}", env("INTEROP_HOST"), env("INTEROP_PORT"))
}

// README: connecting
fn client(api_key: &str, timeout: Option<Duration>) -> Qdrant {
    let mut builder = Qdrant::from_url(&url()).api_key(api_key.to_string()).skip_compatibility_check();
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder.build().unwrap_or_else(|e| {
        eprintln!("client: {e}");
        std::process::exit(2)
    })
}
// README: end

fn points() -> Vec<PointStruct> {
    let data = [
        (1u64, [0.05f32, 0.61, 0.76, 0.74], "Berlin"),
        (2, [0.19, 0.81, 0.75, 0.11], "London"),
        (3, [0.36, 0.55, 0.47, 0.94], "Moscow"),
    ];
    data.iter()
        .map(|(id, v, city)| {
            let mut payload = Payload::new();
            payload.insert("city", *city);
            PointStruct::new(*id, v.to_vec(), payload)
        })
        .collect()
}

fn describe(err: &QdrantError) -> String {
    match err {
        QdrantError::ResponseError { status } => format!("{:?} \"{}\"", status.code(), status.message()),
        other => other.to_string(),
    }
}

/// The call must fail with gRPC `code`; returns "Code message".
fn expect_code<T>(code: Code, what: &str, result: Result<T, QdrantError>) -> StepResult {
    match result {
        Ok(_) => Err(format!("{what}: expected {code:?}, but it succeeded")),
        Err(QdrantError::ResponseError { status }) if status.code() == code => {
            Ok(format!("{:?} \"{}\"", status.code(), status.message()))
        }
        Err(e) => Err(format!("{what}: expected {code:?}, got {}", describe(&e))),
    }
}

fn check(cond: bool, what: String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what) }
}

async fn step<F: Future<Output = StepResult>>(name: &str, f: F) {
    match f.await {
        Ok(detail) => println!("PASS {name}: {detail}"),
        Err(e) => println!("FAIL {name}: {e}"),
    }
}

trait Described<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}
impl<T> Described<T> for Result<T, QdrantError> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {}", describe(&e)))
    }
}

async fn count(c: &Qdrant, name: &str) -> Result<u64, String> {
    let r = c.count(CountPointsBuilder::new(name).exact(true)).await.ctx("count")?;
    Ok(r.result.map(|r| r.count).unwrap_or(0))
}

async fn full_key(admin: &Qdrant, coll: &str, other: &str) -> StepResult {
    for name in [coll, other] {
        if admin.collection_exists(name).await.ctx("exists")? {
            admin.delete_collection(name).await.ctx("delete")?;
        }
        let created = admin
            .create_collection(CreateCollectionBuilder::new(name).vectors_config(VectorParamsBuilder::new(4, Distance::Cosine)))
            .await
            .ctx("create")?;
        check(created.result, format!("create {name}: result false"))?;
    }
    admin.upsert_points(UpsertPointsBuilder::new(coll, points()).wait(true)).await.ctx("upsert")?;
    let hits = admin.search_points(SearchPointsBuilder::new(coll, QUERY.to_vec(), 2)).await.ctx("search")?.result;
    check(hits.len() == 2, format!("search: {} hits, expected 2", hits.len()))?;
    let scrolled = admin.scroll(ScrollPointsBuilder::new(coll).limit(10).with_payload(true)).await.ctx("scroll")?.result;
    check(scrolled.len() == 3, format!("scroll: {} points, expected 3", scrolled.len()))?;
    let n = count(admin, coll).await?;
    check(n == 3, format!("count: {n}, expected 3"))?;
    let names: Vec<String> = admin.list_collections().await.ctx("list")?.collections.into_iter().map(|c| c.name).collect();
    check(
        names.iter().any(|n| n == coll) && names.iter().any(|n| n == other),
        format!("list: {names:?} lacks {coll} or {other}"),
    )?;
    Ok(format!("created {coll} and {other}, upserted 3, search 2 hits, scroll 3, count 3, list has {}", names.len()))
}

async fn read_only(reader: &Qdrant, coll: &str) -> StepResult {
    let hits = reader.search_points(SearchPointsBuilder::new(coll, QUERY.to_vec(), 2)).await.ctx("search")?.result;
    check(hits.len() == 2, format!("search: {} hits, expected 2", hits.len()))?;
    let one = points().into_iter().take(1).collect::<Vec<_>>();
    let denied = expect_code(Code::PermissionDenied, "upsert", reader.upsert_points(UpsertPointsBuilder::new(coll, one).wait(true)).await)?;
    Ok(format!("search 2 hits; upsert refused: {denied}"))
}

async fn collection_jwt(scoped: &Qdrant, coll: &str, other: &str) -> StepResult {
    let names: Vec<String> = scoped.list_collections().await.ctx("list")?.collections.into_iter().map(|c| c.name).collect();
    check(names == [coll], format!("list: {names:?}, expected only {coll}"))?;
    let n = count(scoped, coll).await?;
    check(n == 3, format!("count {coll}: {n}, expected 3"))?;
    let denied = expect_code(
        Code::PermissionDenied,
        &format!("search {other}"),
        scoped.search_points(SearchPointsBuilder::new(other, QUERY.to_vec(), 2)).await,
    )?;
    Ok(format!("list = {names:?}; count {coll} = 3; search {other} refused: {denied}"))
}

async fn deadline(admin: &Qdrant, hasty: &Qdrant, coll: &str, timeout: Duration, max_elapsed: Duration) -> StepResult {
    let started = Instant::now();
    let result = hasty.collection_info(coll).await;
    let elapsed = started.elapsed();
    // qdrant-client's timeout is tonic's Endpoint::timeout: a client-side timer that sends no
    // grpc-timeout header, resets the stream when it fires and reports Cancelled "Timeout expired"
    // (tonic's TimeoutExpired). That is this client's DEADLINE_EXCEEDED, with Qdrant as with the proxy.
    let got = match result {
        Err(QdrantError::ResponseError { status }) if status.code() == Code::Cancelled && status.message() == "Timeout expired" => {
            "Cancelled \"Timeout expired\" (tonic's client-side deadline)".to_string()
        }
        other => expect_code(Code::DeadlineExceeded, &format!("collection info with a {timeout:?} timeout"), other)?,
    };
    check(elapsed < max_elapsed, format!("took {elapsed:?}, expected under {max_elapsed:?}"))?;
    let n = count(admin, coll).await?;
    check(n == 3, format!("count after the deadline: {n}, expected 3"))?;
    Ok(format!("{got} after {} ms; the next call works", elapsed.as_millis()))
}

#[tokio::main]
async fn main() {
    let coll = env("INTEROP_COLLECTION");
    let other = env("INTEROP_OTHER_COLLECTION");
    let timeout = env_ms("INTEROP_TIMEOUT_MS");
    let max_elapsed = env_ms("INTEROP_MAX_ELAPSED_MS");
    let admin = client(&env("INTEROP_API_KEY"), None);
    step("full-key", full_key(&admin, &coll, &other)).await;
    step("read-only-key", read_only(&client(&env("INTEROP_READ_ONLY_KEY"), None), &coll)).await;
    step("collection-jwt", collection_jwt(&client(&env("INTEROP_JWT"), None), &coll, &other)).await;
    let hasty = client(&env("INTEROP_API_KEY"), Some(timeout));
    step("deadline", deadline(&admin, &hasty, &coll, timeout, max_elapsed)).await;
}
