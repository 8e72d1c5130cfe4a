//! `GET /metrics`: each service's metrics in Prometheus' text exposition format (0.0.4).
//!
//! Every [`crate::Application`] has a [`Metrics`]: a registry with the HTTP metrics of this
//! module, to which the service adds its own when it is built
//! ([`crate::Application::build_with_metrics`]). Every name starts with `mycoin_`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `mycoin_http_requests_total` | counter | `method`, `route`, `status` |
//! | `mycoin_http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//!
//! `route` is the pattern the request matched (`/blocks/{hash}`), never the raw path, and
//! [`UNMATCHED_ROUTE`] for every path that matched no route; `method` is one of the standard
//! methods or `OTHER`. The label sets are therefore bounded whatever clients send.
//!
//! A service's own values are read when Prometheus scrapes: [`gauge_fn`], [`counter_fn`] and
//! [`gauge_family_fn`] wrap a closure as a metric, so that nothing has to be kept in step.
//! The closures run on the scraping request's worker: they must be quick and must not block
//! (no lock that a slow task may hold, no I/O).
//!
//! `/metrics` needs no token and changes nothing.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use prometheus_client::encoding::{
    EncodeGaugeValue, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet, prometheus_text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;

use crate::ApiError;

/// Where the metrics are served.
pub const METRICS_PATH: &str = "/metrics";
/// The prefix of every metric name.
pub const PREFIX: &str = "mycoin";
/// The `route` label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Upper bounds of the latency histogram's buckets, in seconds: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The labels of one HTTP request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The request counter and latency histogram.
#[derive(Debug)]
struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

/// One service's metrics: its registry (HTTP metrics included). Cloning shares it.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    http: Arc<HttpMetrics>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The HTTP metrics, plus what `register` adds to the registry (names without the
    /// `mycoin_` prefix, which the registry adds).
    pub fn new(register: impl FnOnce(&mut Registry)) -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let http = Arc::new(HttpMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
        });
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            http.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route pattern and status",
            http.duration.clone(),
        );
        register(&mut registry);
        Metrics {
            registry: Arc::new(registry),
            http,
        }
    }

    /// Every metric in Prometheus' text format (0.0.4), read now.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    fn observe(&self, method: &Method, route: Option<&str>, status: StatusCode, seconds: f64) {
        let labels = RequestLabels {
            method: method_label(method),
            route: route.unwrap_or(UNMATCHED_ROUTE).to_owned(),
            status: status.as_u16(),
        };
        self.http.requests.get_or_create(&labels).inc();
        self.http.duration.get_or_create(&labels).observe(seconds);
    }
}

/// The standard methods by name; anything else (a client may send any token) is `OTHER`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::PATCH, "PATCH"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, name)| name)
}

/// Middleware (for `actix_web::middleware::from_fn`) that counts each request and observes
/// its latency in the app's [`Metrics`] (app data `web::Data<Metrics>`), labelled by the
/// route pattern it matched and its final status.
pub async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().clone();
    let started = Instant::now();
    let result = next.call(req).await;
    if let Some(metrics) = metrics {
        let seconds = started.elapsed().as_secs_f64();
        match &result {
            Ok(response) => metrics.observe(
                &method,
                response.request().match_pattern().as_deref(),
                response.status(),
                seconds,
            ),
            // The request is gone with the error: its route is unknown here.
            Err(err) => metrics.observe(
                &method,
                None,
                err.as_response_error().status_code(),
                seconds,
            ),
        }
    }
    result
}

/// Metrics in Prometheus' text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses(
        (status = 200,
         description = "The service's metrics in Prometheus' text exposition format 0.0.4: \
                        HTTP requests by method, route pattern and status \
                        (`mycoin_http_requests_total`, `mycoin_http_request_duration_seconds`), \
                        and the service's own gauges and counters",
         content_type = "text/plain",
         body = String,
         example = "# HELP mycoin_http_requests_total HTTP requests answered, by method, route pattern and status.\n# TYPE mycoin_http_requests_total counter\nmycoin_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1\n"),
        (status = 500, description = "The metrics could not be encoded", body = crate::ErrorBody),
    )
)]
pub async fn serve(metrics: web::Data<Metrics>) -> Result<HttpResponse, ApiError> {
    let text = metrics.encode().map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the metrics could not be encoded",
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus_text::CONTENT_TYPE)
        .body(text))
}

/// Registers [`METRICS_PATH`] serving `metrics`.
pub fn configure(cfg: &mut web::ServiceConfig, metrics: web::Data<Metrics>) {
    cfg.service(
        web::resource(METRICS_PATH)
            .app_data(metrics)
            .route(web::get().to(serve)),
    );
}

type Read<T> = Box<dyn Fn() -> T + Send + Sync>;

/// A gauge whose value a closure reads at each scrape: [`gauge_fn`].
pub struct GaugeFn<N> {
    read: Read<N>,
}

/// A gauge read from `read` at each scrape:
///
/// ```
/// # use std::sync::Arc;
/// # use std::sync::atomic::{AtomicU64, Ordering};
/// let keys = Arc::new(AtomicU64::new(3));
/// let metrics = mycoin_web::metrics::Metrics::new(|registry| {
///     let keys = keys.clone();
///     registry.register(
///         "keys",
///         "Keys in the store",
///         mycoin_web::metrics::gauge_fn(move || keys.load(Ordering::Relaxed)),
///     );
/// });
/// assert!(metrics.encode().unwrap().contains("\nmycoin_keys 3\n"));
/// ```
pub fn gauge_fn<N>(read: impl Fn() -> N + Send + Sync + 'static) -> GaugeFn<N> {
    GaugeFn {
        read: Box::new(read),
    }
}

impl<N> fmt::Debug for GaugeFn<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GaugeFn").finish_non_exhaustive()
    }
}

impl<N: EncodeGaugeValue> EncodeMetric for GaugeFn<N> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_gauge(&(self.read)())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// A counter whose value a closure reads at each scrape (a total the service keeps anyway):
/// [`counter_fn`]. Registered as `name`, it is exported as `name_total`.
pub struct CounterFn {
    read: Read<u64>,
}

/// A counter read from `read` at each scrape; `read` must never go down.
pub fn counter_fn(read: impl Fn() -> u64 + Send + Sync + 'static) -> CounterFn {
    CounterFn {
        read: Box::new(read),
    }
}

impl fmt::Debug for CounterFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CounterFn").finish_non_exhaustive()
    }
}

impl EncodeMetric for CounterFn {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&(self.read)(), None::<&Exemplar<_, _>>)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Gauges of one label, values and label values both read at each scrape:
/// [`gauge_family_fn`].
pub struct GaugeFamilyFn<N> {
    label: &'static str,
    read: Read<Vec<(String, N)>>,
}

/// One gauge per `(label value, value)` that `read` returns, labelled `label`. `read` should
/// return the same bounded set of label values each time (e.g. every state, zeros included).
pub fn gauge_family_fn<N>(
    label: &'static str,
    read: impl Fn() -> Vec<(String, N)> + Send + Sync + 'static,
) -> GaugeFamilyFn<N> {
    GaugeFamilyFn {
        label,
        read: Box::new(read),
    }
}

impl<N> fmt::Debug for GaugeFamilyFn<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GaugeFamilyFn")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl<N: EncodeGaugeValue> EncodeMetric for GaugeFamilyFn<N> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        for (value, gauge) in (self.read)() {
            let labels = [(self.label, value)];
            encoder.encode_family(&labels)?.encode_gauge(&gauge)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// `n` as a gauge value (saturating: a count never reaches `i64::MAX`).
pub fn as_gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One sample of the text format: `name{label="value",...} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric's name, with its suffix (`_total`, `_bucket`, `_sum`, `_count`).
    pub name: String,
    /// The labels in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, when the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Reads Prometheus' text exposition format (0.0.4) strictly enough for tests and benchmarks
/// (prometheus-client writes it but does not read it): every line is a `# HELP`, a `# TYPE`
/// (counter, gauge, histogram, summary or untyped) or a sample of a family declared by a
/// `# TYPE` line before it, with a valid name, quoted labels and a number. Returns the samples,
/// or the first bad line and why.
pub fn parse_text(text: &str) -> Result<Vec<Sample>, String> {
    let mut families: Vec<(String, String)> = Vec::new();
    let mut samples = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let bad = |why: &str| format!("line {}: {why}: {line:?}", number + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(name), _) if is_metric_name(name) => {}
                (Some("TYPE"), Some(name), Some(kind)) if is_metric_name(name) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(bad("unknown metric type"));
                    }
                    families.push((name.to_owned(), kind.to_owned()));
                }
                _ => return Err(bad("a comment that is neither HELP nor TYPE")),
            }
            continue;
        }
        let sample = parse_sample(line).map_err(bad)?;
        let declared = families.iter().any(|(family, kind)| {
            let suffixes: &[&str] = match kind.as_str() {
                "histogram" => &["_bucket", "_sum", "_count"],
                "summary" => &["", "_sum", "_count"],
                _ => &[""],
            };
            suffixes
                .iter()
                .any(|suffix| sample.name == format!("{family}{suffix}"))
        });
        if !declared {
            return Err(bad("a sample of no declared family"));
        }
        samples.push(sample);
    }
    Ok(samples)
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    is_metric_name(name) && !name.contains(':')
}

fn parse_sample(line: &str) -> Result<Sample, &'static str> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err("bad metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = inner.split_once("=\"").ok_or("bad label")?;
            if !is_label_name(key) {
                return Err("bad label name");
            }
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next().ok_or("unterminated label value")? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or("bad escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        _ => return Err("bad escape"),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.to_owned(), value));
            inner = &after[end + 1..];
            inner = inner.strip_prefix(',').unwrap_or(inner);
        }
    }
    let mut fields = rest
        .strip_prefix(' ')
        .ok_or("no space before the value")?
        .split(' ');
    let value = match fields.next().ok_or("no value")? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number.parse().map_err(|_| "bad value")?,
    };
    // An optional timestamp in milliseconds, then nothing.
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().map_err(|_| "bad timestamp")?;
    }
    if fields.next().is_some() {
        return Err("trailing fields");
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// The value of the first sample named `name` having every label of `labels`.
pub fn sample_value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|sample| {
            sample.name == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.label(key) == Some(*value))
        })
        .map(|sample| sample.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_read_at_each_scrape() {
        let value = Arc::new(std::sync::atomic::AtomicU64::new(1));
        let read = value.clone();
        let metrics = Metrics::new(move |registry| {
            let gauge = read.clone();
            registry.register(
                "things",
                "Things",
                gauge_fn(move || gauge.load(std::sync::atomic::Ordering::Relaxed)),
            );
            registry.register(
                "found",
                "Found",
                counter_fn(move || read.load(std::sync::atomic::Ordering::Relaxed)),
            );
            registry.register(
                "peers",
                "Peers by state",
                gauge_family_fn("state", || {
                    vec![("banned".to_owned(), 0i64), ("reached".to_owned(), 2)]
                }),
            );
        });
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("# TYPE mycoin_things gauge\nmycoin_things 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE mycoin_found_total counter\nmycoin_found_total 1\n"));
        assert!(text.contains("mycoin_peers{state=\"banned\"} 0\n"));
        assert!(text.contains("mycoin_peers{state=\"reached\"} 2\n"));
        value.store(5, std::sync::atomic::Ordering::Relaxed);
        let text = metrics.encode().unwrap();
        assert!(text.contains("mycoin_things 5\n"));
        assert!(text.contains("mycoin_found_total 5\n"));
    }

    #[test]
    fn the_encoded_text_parses_back() {
        let metrics = Metrics::new(|_| {});
        metrics.observe(&Method::GET, Some("/items/{id}"), StatusCode::OK, 0.002);
        metrics.observe(&Method::POST, None, StatusCode::NOT_FOUND, 0.3);
        let samples = parse_text(&metrics.encode().unwrap()).unwrap();
        let count = |route: &str, status: &str| {
            sample_value(
                &samples,
                "mycoin_http_requests_total",
                &[("route", route), ("status", status)],
            )
        };
        assert_eq!(count("/items/{id}", "200"), Some(1.0));
        assert_eq!(count(UNMATCHED_ROUTE, "404"), Some(1.0));
        let bucket = |le: &str| {
            sample_value(
                &samples,
                "mycoin_http_request_duration_seconds_bucket",
                &[("route", "/items/{id}"), ("le", le)],
            )
        };
        assert_eq!(bucket("0.001"), Some(0.0));
        assert_eq!(bucket("0.0025"), Some(1.0));
        assert_eq!(bucket("+Inf"), Some(1.0));
    }

    #[test]
    fn the_parser_refuses_what_is_not_the_text_format() {
        let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\"} 1\n";
        let samples = parse_text(ok).unwrap();
        assert_eq!(samples[0].label("x"), Some("q\""));
        for bad in [
            "a 1\n",
            "# TYPE a gauge\na{x=\"1\"\n",
            "# TYPE a gauge\na one\n",
            "# TYPE a gauge\n9a 1\n",
            "# TYPE a thing\n",
            "# TYPE a gauge\na 1 2 3\n",
            "<html>\n",
        ] {
            assert!(parse_text(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "OTHER");
    }
}
