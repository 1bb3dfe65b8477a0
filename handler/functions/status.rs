//! `status`: London line status, the classic `status.py` done properly.
//! `GET /api/status` lists the default modes (`tube,overground`) as `{"Bakerloo": "Good
//! Service", ...}`; `?mode=` picks modes, `?lines=` picks lines; `detail=true` adds reasons and
//! validity periods; `format=text` prints `Name: Status` lines like the script.

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{AppError, ErrorBody},
    http::{
        openapi::TflUpstream,
        tfl_params::{cache_headers, flag, id_list},
    },
    state::AppState,
    tfl::{Line, LineStatus, Rendering},
};

/// What `status.py` lists when given nothing.
pub const DEFAULT_MODES: &str = "tube,overground";
/// The short form's word for a line TfL gives no status at all (`lineStatuses: []`).
pub const UNKNOWN: &str = "Unknown";

const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Comma-separated TfL modes (`tube`, `overground`, `dlr`, `elizabeth-line`, `bus`, ...);
    /// default `tube,overground`. Not with `lines`.
    mode: Option<String>,
    /// Comma-separated line ids, any case (`circle`, `73`, `hammersmith-city`). Not with `mode`.
    lines: Option<String>,
    /// `true` for every status's reason and validity period.
    detail: Option<String>,
    /// `json` (default) or `text` for `Name: Status` lines. `text` does not combine with `detail`.
    format: Option<String>,
}

/// The body of a JSON answer: the short map, or with `detail=true` the full list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StatusBody {
    /// Line name → its statuses, worst first, joined with ", "; in TfL's order.
    Short(StatusMap),
    Detail(Vec<LineDetail>),
}

/// `{"Bakerloo": "Good Service", "Piccadilly": "Part Suspended, Severe Delays"}`, keeping
/// TfL's order (a JSON object written in order, not sorted).
#[derive(Debug, ToSchema)]
#[schema(value_type = std::collections::HashMap<String, String>)]
pub struct StatusMap(Vec<(String, String)>);

impl Serialize for StatusMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, status)| (name, status)))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineDetail {
    /// TfL's line id, e.g. `piccadilly`.
    id: String,
    name: String,
    /// TfL's mode, e.g. `tube`.
    mode: String,
    /// Worst first; empty when TfL has no status for the line.
    statuses: Vec<StatusDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetail {
    /// TfL's severity: lower is worse (6 Severe Delays, 10 Good Service, 20 Service Closed).
    severity: i32,
    description: String,
    reason: Option<String>,
    /// The validity period in force now, else the first one TfL lists.
    valid_from: Option<String>,
    valid_to: Option<String>,
    /// Whether the status applies now; a status without any validity period counts as now.
    is_now: bool,
}

/// Line status from TfL.
///
/// With no parameters: the lines of `tube,overground`, as `{"Line": "Status"}`. A line with
/// several statuses lists them all, worst first by TfL's severity.
#[utoipa::path(
    get,
    path = "/api/status",
    tag = "tfl",
    params(StatusQuery),
    responses(
        (status = 200, description = "Line statuses. Headers: `Cache-Control: public, max-age=<s>`, `Age`, `X-Cache: HIT|MISS|STALE`.",
            content(
                (StatusBody = "application/json",
                    example = json!({"Bakerloo": "Good Service", "Piccadilly": "Part Suspended, Severe Delays"})),
                (String = "text/plain; charset=utf-8",
                    example = "Bakerloo: Good Service\nPiccadilly: Part Suspended, Severe Delays\n"),
            )),
        (status = 400, description = "A bad mode or line id (the message names it), `mode` with `lines`, `detail` with `format=text`, or TfL's own 400", body = ErrorBody),
        (status = 404, description = "TfL knows none of these lines", body = ErrorBody),
        TflUpstream,
    ),
)]
pub async fn status(
    State(state): State<AppState>,
    Query(query): Query<StatusQuery>,
) -> Result<Response, AppError> {
    let detail = flag("detail", query.detail.as_deref())?;
    let text = match query.format.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(f) if f.eq_ignore_ascii_case("json") => false,
        Some(f) if f.eq_ignore_ascii_case("text") => true,
        Some(f) => {
            return Err(AppError::InvalidInput(format!(
                "format: {f:?} is not json or text"
            )))
        }
    };
    if detail && text {
        return Err(AppError::InvalidInput(
            "detail=true is JSON only; drop format=text or detail".to_owned(),
        ));
    }
    let cached = match (query.mode.as_deref(), query.lines.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(AppError::InvalidInput(
                "give mode or lines, not both".to_owned(),
            ))
        }
        (None, Some(lines)) => {
            let ids = id_list("lines", lines)?;
            let cached = state.tfl.status_by_line(&ids).await?;
            if cached.value.is_empty() {
                return Err(AppError::NotFound(format!(
                    "TfL knows none of these lines: {}",
                    ids.join(",")
                )));
            }
            cached
        }
        (mode, None) => {
            let modes = id_list("mode", mode.unwrap_or(DEFAULT_MODES))?;
            state.tfl.status_by_mode(&modes).await?
        }
    };

    let headers = cache_headers(&cached);
    if text {
        let body = cached.value.rendered(Rendering::Text, |lines| {
            let mut body = String::new();
            for line in lines {
                body.push_str(&format!(
                    "{}: {}\n",
                    line.name,
                    summary(&line.line_statuses)
                ));
            }
            Bytes::from(body)
        });
        return Ok((headers, [(header::CONTENT_TYPE, TEXT)], body).into_response());
    }
    let rendering = if detail {
        Rendering::Detail
    } else {
        Rendering::Short
    };
    let body = cached.value.rendered(rendering, |lines| {
        let body = if detail {
            StatusBody::Detail(lines.iter().map(line_detail).collect())
        } else {
            StatusBody::Short(StatusMap(
                lines
                    .iter()
                    .map(|line| (line.name.clone(), summary(&line.line_statuses)))
                    .collect(),
            ))
        };
        // Strings, numbers and booleans always serialise.
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    });
    Ok((headers, [(header::CONTENT_TYPE, JSON)], body).into_response())
}

/// TfL's statuses, worst first (lowest severity; ties keep TfL's order).
fn worst_first(statuses: &[LineStatus]) -> Vec<&LineStatus> {
    let mut sorted: Vec<&LineStatus> = statuses.iter().collect();
    sorted.sort_by_key(|status| status.status_severity);
    sorted
}

/// Every status description, worst first, each once (TfL repeats a status for each affected
/// section), joined with ", "; `Unknown` when there is none.
fn summary(statuses: &[LineStatus]) -> String {
    let mut descriptions: Vec<&str> = Vec::new();
    for status in worst_first(statuses) {
        let description = status.status_severity_description.trim();
        if !description.is_empty() && !descriptions.contains(&description) {
            descriptions.push(description);
        }
    }
    if descriptions.is_empty() {
        UNKNOWN.to_owned()
    } else {
        descriptions.join(", ")
    }
}

fn line_detail(line: &Line) -> LineDetail {
    LineDetail {
        id: line.id.clone(),
        name: line.name.clone(),
        mode: line.mode_name.clone(),
        statuses: worst_first(&line.line_statuses)
            .into_iter()
            .map(|status| {
                let period = status
                    .validity_periods
                    .iter()
                    .find(|period| period.is_now)
                    .or_else(|| status.validity_periods.first());
                StatusDetail {
                    severity: status.status_severity,
                    description: status.status_severity_description.clone(),
                    reason: status
                        .reason
                        .as_deref()
                        .map(str::trim)
                        .filter(|reason| !reason.is_empty())
                        .map(str::to_owned),
                    valid_from: period.and_then(|p| p.from_date.clone()),
                    valid_to: period.and_then(|p| p.to_date.clone()),
                    is_now: status.validity_periods.is_empty()
                        || status.validity_periods.iter().any(|p| p.is_now),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(severity: i32, description: &str) -> LineStatus {
        LineStatus {
            status_severity: severity,
            status_severity_description: description.to_owned(),
            reason: None,
            validity_periods: Vec::new(),
        }
    }

    #[test]
    fn worst_first_each_once_or_unknown() {
        let statuses = [
            status(6, "Severe Delays"),
            status(3, "Part Suspended"),
            status(3, "Part Suspended"),
        ];
        assert_eq!(summary(&statuses), "Part Suspended, Severe Delays");
        assert_eq!(summary(&[]), UNKNOWN);
    }
}
