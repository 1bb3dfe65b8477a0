//! `bikepoint`: Santander Cycles dock occupancy. `GET /api/bikepoint?id=BikePoints_187,1` or
//! `GET /api/bikepoint/187`; a bare number is shorthand for `BikePoints_<number>`.

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{AppError, ErrorBody},
    http::{
        openapi::TflUpstream,
        tfl_params::{cache_headers, split},
    },
    state::AppState,
    tfl::BikePointOccupancy,
};

const PREFIX: &str = "BikePoints_";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BikePointQuery {
    /// Comma-separated bike point ids, `BikePoints_187` or just `187`; at most 20.
    id: Option<String>,
}

/// One dock's occupancy.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dock {
    /// e.g. `BikePoints_187`
    id: String,
    name: String,
    bikes_count: i64,
    empty_docks: i64,
    total_docks: i64,
    /// Only when TfL sends the split (newer responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    standard_bikes_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e_bikes_count: Option<i64>,
    /// `totalDocks - bikesCount - emptyDocks`, only when positive.
    #[serde(skip_serializing_if = "Option::is_none")]
    broken_docks: Option<i64>,
}

/// Occupancy of the bike points in `id`.
#[utoipa::path(
    get,
    path = "/api/bikepoint",
    tag = "tfl",
    params(BikePointQuery),
    responses(
        (status = 200, description = "Occupancy, in TfL's order. Headers: `Cache-Control: public, max-age=<s>`, `Age`, `X-Cache`.", body = Vec<Dock>),
        (status = 400, description = "No id, a malformed id (the message names it) or more than 20", body = ErrorBody),
        (status = 404, description = "TfL does not know an id", body = ErrorBody),
        TflUpstream,
    ),
)]
pub async fn by_query(
    State(state): State<AppState>,
    Query(query): Query<BikePointQuery>,
) -> Result<Response, AppError> {
    let ids = query
        .id
        .ok_or_else(|| AppError::InvalidInput("id: give one or more bike point ids".to_owned()))?;
    occupancy(&state, &ids).await
}

/// Occupancy of one bike point (or a comma-separated few).
#[utoipa::path(
    get,
    path = "/api/bikepoint/{id}",
    tag = "tfl",
    params(("id" = String, Path, description = "`BikePoints_187` or `187`")),
    responses(
        (status = 200, description = "Occupancy, as for `?id=`", body = Vec<Dock>),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 404, description = "TfL does not know the id", body = ErrorBody),
        TflUpstream,
    ),
)]
pub async fn by_path(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    occupancy(&state, &id).await
}

async fn occupancy(state: &AppState, ids: &str) -> Result<Response, AppError> {
    let ids = bike_point_ids(ids)?;
    let cached = state.tfl.bike_points(&ids).await?;
    let docks: Vec<Dock> = cached.value.iter().filter_map(dock).collect();
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| !docks.iter().any(|dock| &dock.id == *id))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(AppError::NotFound(format!(
            "TfL does not know bike point {}",
            missing.join(", ")
        )));
    }
    Ok((cache_headers(&cached), Json(docks)).into_response())
}

/// `BikePoints_<n>` for each item; a bare `<n>` gets the prefix. Repeats are dropped.
fn bike_point_ids(value: &str) -> Result<Vec<String>, AppError> {
    let mut ids: Vec<String> = Vec::new();
    for item in split("id", value)? {
        let number = match item.get(..PREFIX.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &item[PREFIX.len()..],
            _ => item,
        };
        if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
            return Err(AppError::InvalidInput(format!(
                "id: {item:?} is not a bike point id (BikePoints_<number> or <number>)"
            )));
        }
        let id = format!("{PREFIX}{number}");
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Ours from TfL's; None for an entry without an id (how TfL may answer for an unknown one).
fn dock(tfl: &BikePointOccupancy) -> Option<Dock> {
    let id = tfl.id.clone().filter(|id| !id.is_empty())?;
    let broken = tfl.total_docks - tfl.bikes_count - tfl.empty_docks;
    Some(Dock {
        id,
        name: tfl.name.clone(),
        bikes_count: tfl.bikes_count,
        empty_docks: tfl.empty_docks,
        total_docks: tfl.total_docks,
        standard_bikes_count: tfl.standard_bikes_count,
        e_bikes_count: tfl.e_bikes_count,
        broken_docks: (broken > 0).then_some(broken),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_the_prefix_and_junk_is_refused() {
        assert_eq!(
            bike_point_ids("187, bikepoints_1,BikePoints_187").unwrap(),
            ["BikePoints_187", "BikePoints_1"]
        );
        for bad in ["BikePoints_", "abc", "BikePoints_1a", "1,,2", "Bike_1"] {
            assert!(bike_point_ids(bad).is_err(), "{bad}");
        }
        assert!(bike_point_ids(&["1"; 21].join(",")).is_err());
    }
}
