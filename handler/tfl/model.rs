//! The parts of TfL's JSON we read. Everything else TfL sends (`$type`, disruptions, routes)
//! is ignored, so additions on TfL's side do not break us; a missing required field does, and
//! that is a 502 (TfL sent something we do not understand).

use serde::Deserialize;

/// One line from `/Line/.../Status`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub mode_name: String,
    /// TfL sends `[]` for a line with no status at all.
    #[serde(default)]
    pub line_statuses: Vec<LineStatus>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineStatus {
    /// TfL numbers severities worst first: 0 Special Service, 1 Closed, ... 10 Good Service.
    pub status_severity: i32,
    #[serde(default)]
    pub status_severity_description: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub validity_periods: Vec<ValidityPeriod>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidityPeriod {
    #[serde(default)]
    pub from_date: Option<String>,
    #[serde(default)]
    pub to_date: Option<String>,
    #[serde(default)]
    pub is_now: bool,
}

/// One bike point from `/Occupancy/BikePoints/{ids}`. Older responses have no standard/e-bike
/// split, so those two are optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BikePointOccupancy {
    /// Unknown ids may come back as entries without an id; the caller treats those as absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    pub bikes_count: i64,
    pub empty_docks: i64,
    pub total_docks: i64,
    #[serde(default)]
    pub standard_bikes_count: Option<i64>,
    #[serde(default, rename = "eBikesCount")]
    pub e_bikes_count: Option<i64>,
}

/// TfL's error body (`Tfl.Api.Presentation.Entities.ApiError`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(default)]
    pub http_status_code: Option<u16>,
    #[serde(default)]
    pub exception_type: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}
