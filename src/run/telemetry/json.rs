//! Run layer: the JSON log line, one object per event in the ecs-logging layout.
//!
//! A `tracing` layer rather than the `fmt` JSON formatter, because the formatter nests span
//! fields under `span` while log pipelines want them at the top level: a request's id and
//! its counters then sit on every line logged within the request, under fixed names.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::{Map, Number, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Where finished lines go (stdout, the logstash queue, a test buffer). Called inside the
/// logging layer: it must not log, and must not block for long.
pub(super) type LineSink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// The version of the ECS field set the lines follow.
const ECS_VERSION: &str = "8.11.0";

/// Names the layer writes itself; fields of the same name are left out, so these keep
/// their ECS meaning whatever a call site logs.
const RESERVED: [&str; 6] = [
    "@timestamp",
    "log.level",
    "message",
    "ecs.version",
    "service.name",
    "log.logger",
];

/// Renders every event as one JSON line and hands it to each sink.
pub(super) struct JsonLayer {
    service_name: String,
    sinks: Vec<LineSink>,
}

impl JsonLayer {
    pub(super) fn new(service_name: String, sinks: Vec<LineSink>) -> Self {
        Self {
            service_name,
            sinks,
        }
    }

    /// The line for `event`, newline-terminated; `None` only if serialisation failed,
    /// which `serde_json` does not do for these values.
    fn line<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> Option<Vec<u8>>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let mut fields = Map::new();
        // Outermost span first, so inner spans and then the event override on a clash.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(own) = span.extensions().get::<SpanFields>() {
                    fields.extend(own.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut Recorder(&mut fields));
        let metadata = event.metadata();
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let message = fields
            .remove("message")
            .unwrap_or_else(|| Value::String(String::new()));
        let fixed = [
            ("@timestamp", Value::String(timestamp)),
            ("log.level", Value::from(level_name(metadata.level()))),
            ("message", message),
            ("ecs.version", Value::from(ECS_VERSION)),
            ("service.name", Value::from(self.service_name.as_str())),
            ("log.logger", Value::from(metadata.target())),
        ];
        let own = fields
            .iter()
            .filter(|(name, _)| !RESERVED.contains(&name.as_str()));
        let all = fixed.iter().map(|(k, v)| (*k, v));
        let ordered = Ordered(all.chain(own.map(|(k, v)| (k.as_str(), v))).collect());
        let mut line = serde_json::to_vec(&ordered).ok()?;
        line.push(b'\n');
        Some(line)
    }
}

impl<S> Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(fields) => attrs.record(&mut Recorder(&mut fields.0)),
            None => {
                let mut fields = SpanFields::default();
                attrs.record(&mut Recorder(&mut fields.0));
                extensions.insert(fields);
            }
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(fields) = span.extensions_mut().get_mut::<SpanFields>() {
            values.record(&mut Recorder(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Nothing here may log: an event from inside the layer would recurse.
        if let Some(line) = self.line(event, &ctx) {
            for sink in &self.sinks {
                sink(&line);
            }
        }
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// The ECS name of a field: the two ids pipelines join on get their ECS names, the rest
/// keep theirs (dots included, as in `calls.mysql`).
fn ecs_name(name: &str) -> &str {
    match name {
        "request_id" => "http.request.id",
        "trace_id" => "trace.id",
        other => other,
    }
}

/// A span's fields as last recorded, kept in the span's extensions.
#[derive(Default)]
struct SpanFields(Map<String, Value>);

/// Records fields as JSON values: numbers and booleans stay typed, the rest are strings.
struct Recorder<'a>(&'a mut Map<String, Value>);

impl Recorder<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(ecs_name(field.name()).to_owned(), value);
    }
}

impl Visit for Recorder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        let number = Number::from_f64(value).map(Value::Number);
        self.put(
            field,
            number.unwrap_or_else(|| Value::String(value.to_string())),
        );
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let number = i64::try_from(value).map(Value::from);
        self.put(
            field,
            number.unwrap_or_else(|_| Value::String(value.to_string())),
        );
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let number = u64::try_from(value).map(Value::from);
        self.put(
            field,
            number.unwrap_or_else(|_| Value::String(value.to_string())),
        );
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

/// Key-value pairs serialised as a JSON object in the given order, so that the ECS fields
/// lead each line whatever map ordering `serde_json` was built with.
struct Ordered<'a>(Vec<(&'a str, &'a Value)>);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// A sink keeping the lines, and a way to read them back.
    fn capture() -> (LineSink, Arc<Mutex<Vec<Value>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        let sink: LineSink = Arc::new(move |line: &[u8]| {
            assert_eq!(line.last(), Some(&b'\n'), "a line ends with a newline");
            let value = serde_json::from_slice(line).expect("a JSON line");
            kept.lock().expect("lock").push(value);
        });
        (sink, lines)
    }

    fn lines_logged_by(log: impl FnOnce()) -> Vec<Value> {
        let (sink, lines) = capture();
        let layer = JsonLayer::new("ogrom-test".to_owned(), vec![sink]);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, log);
        let lines = lines.lock().expect("lock");
        lines.clone()
    }

    #[derive(Debug)]
    enum Cache {
        Miss,
    }

    #[test]
    fn event_in_a_request_span_is_one_ecs_line_with_span_fields_on_top() {
        let lines = lines_logged_by(|| {
            let span = tracing::info_span!(
                "request",
                request_id = "req-1",
                trace_id = "0af7651916cd43dd8448eb211c80319c",
                calls.mysql = tracing::field::Empty,
            );
            let _entered = span.enter();
            span.record("calls.mysql", 3u64);
            tracing::warn!(
                message = "query done",
                rows = 7,
                cached = false,
                ratio = 0.5,
                path = %"/graphql",
                cache = ?Cache::Miss,
            );
        });

        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        let timestamp = line["@timestamp"].as_str().expect("a timestamp");
        assert!(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok());
        assert!(
            timestamp.ends_with('Z') && timestamp.len() == 24,
            "{timestamp}"
        );
        assert_eq!(line["log.level"], "warn");
        assert_eq!(line["message"], "query done");
        assert_eq!(line["ecs.version"], "8.11.0");
        assert_eq!(line["service.name"], "ogrom-test");
        assert_eq!(line["log.logger"], module_path!());
        assert_eq!(line["http.request.id"], "req-1");
        assert_eq!(line["trace.id"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(line["calls.mysql"], 3);
        assert_eq!(line["rows"], 7);
        assert_eq!(line["cached"], false);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["path"], "/graphql");
        assert_eq!(line["cache"], "Miss");
        assert!(line.get("request_id").is_none() && line.get("trace_id").is_none());
    }

    #[test]
    fn inner_spans_override_outer_ones_and_the_event_overrides_both() {
        let lines = lines_logged_by(|| {
            let outer = tracing::info_span!("outer", stage = "outer", kept = 1, log.level = "x");
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", stage = "inner", step = "inner");
            let _inner = inner.enter();
            tracing::info!(step = "event", "formatted {}", 42);
        });

        let line = &lines[0];
        assert_eq!(line["stage"], "inner");
        assert_eq!(line["step"], "event");
        assert_eq!(line["kept"], 1);
        assert_eq!(line["message"], "formatted 42");
        // A field named like an ECS field the layer writes does not replace it.
        assert_eq!(line["log.level"], "info");
    }

    #[test]
    fn event_outside_any_span_has_only_its_own_fields() {
        let lines = lines_logged_by(|| tracing::error!(message = "alone", code = -3));

        assert_eq!(lines.len(), 1);
        let fields = lines[0].as_object().expect("an object");
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.sort_unstable();
        let expected = [
            "@timestamp",
            "code",
            "ecs.version",
            "log.level",
            "log.logger",
            "message",
            "service.name",
        ];
        assert_eq!(names, expected);
        assert_eq!(lines[0]["code"], -3);
        assert_eq!(lines[0]["log.level"], "error");
    }
}
