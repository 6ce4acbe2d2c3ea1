//! Tastypie's conventions as FortiAuthenticator's REST API shows them, as pure functions: paging (`limit`
//! default 20, at most 1000, `limit=0` meaning 1000; `meta.next` and `meta.previous` as absolute paths with
//! the other query parameters kept), Django-style filters (`serial__iexact=…`) over each resource's
//! filterable fields with Tastypie's refusals, and `?format=json`.

use protocol::fac_rest::{DEFAULT_LIMIT, MAX_LIMIT, Meta, Page};
use serde_json::Value;

use super::error::FacApiError;

/// The query parameters that are not filters.
const RESERVED: [&str; 5] = ["limit", "offset", "format", "returnseed", "order_by"];

/// A request's query string, decoded, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams(pub Vec<(String, String)>);

impl QueryParams {
    /// Decodes a query string; a malformed one is a 400.
    pub fn parse(query: &str) -> Result<QueryParams, FacApiError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map(QueryParams)
            .map_err(|e| FacApiError::BadRequest(format!("Invalid query string: {e}")))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `?format=`: only JSON is served (Tastypie's answer to any other).
    pub fn check_format(&self) -> Result<(), FacApiError> {
        match self.get("format") {
            None | Some("json") => Ok(()),
            Some(other) => Err(FacApiError::BadRequest(format!(
                "The format indicated '{other}' had no available serialization method. Please check your ``formats`` and ``content_types`` on your Serializer."
            ))),
        }
    }
}

/// Which lookups a resource allows on a field.
pub struct Filterable {
    pub field: &'static str,
    pub lookups: &'static [&'static str],
}

/// Lookups for text fields.
pub const TEXT: &[&str] = &[
    "exact",
    "iexact",
    "contains",
    "icontains",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "in",
];
/// Lookups for fields compared whole (booleans, enumerations, ids).
pub const EXACT: &[&str] = &["exact", "in"];
/// Lookups for numbers.
pub const NUMBER: &[&str] = &["exact", "in", "gt", "gte", "lt", "lte"];

/// Keeps the objects every filter of `query` accepts. A parameter naming no field of the objects is ignored
/// (Tastypie skips it); a field the resource does not filter on, or a lookup it does not allow, is a 400 with
/// Tastypie's sentence.
pub fn filter(
    objects: Vec<Value>,
    query: &QueryParams,
    filtering: &[Filterable],
) -> Result<Vec<Value>, FacApiError> {
    let mut checks: Vec<(&str, &str, &str)> = Vec::new();
    for (name, value) in &query.0 {
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        let (field, lookup) = name.split_once("__").unwrap_or((name.as_str(), "exact"));
        let known = objects.first().is_some_and(|o| o.get(field).is_some())
            || filtering.iter().any(|f| f.field == field);
        if !known {
            continue;
        }
        let Some(rule) = filtering.iter().find(|f| f.field == field) else {
            return Err(FacApiError::BadRequest(format!(
                "The '{field}' field does not allow filtering."
            )));
        };
        if !rule.lookups.contains(&lookup) {
            return Err(FacApiError::BadRequest(format!(
                "'{lookup}' is not an allowed filter on the '{field}' field."
            )));
        }
        checks.push((field, lookup, value.as_str()));
    }
    Ok(objects
        .into_iter()
        .filter(|object| {
            checks.iter().all(|(field, lookup, wanted)| {
                matches(object.get(*field).unwrap_or(&Value::Null), lookup, wanted)
            })
        })
        .collect())
}

/// The text a field's value compares as: strings as they are, booleans `true`/`false`, numbers in decimal,
/// `null` as nothing.
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// Tastypie's reading of a boolean in a query (`true`, `True`, `1`, …).
fn normalise(wanted: &str, value: &Value) -> String {
    if value.is_boolean() {
        match wanted.to_ascii_lowercase().as_str() {
            "1" | "true" => "true".to_owned(),
            "0" | "false" => "false".to_owned(),
            other => other.to_owned(),
        }
    } else {
        wanted.to_owned()
    }
}

fn matches(value: &Value, lookup: &str, wanted: &str) -> bool {
    let wanted = normalise(wanted, value);
    let Some(text) = as_text(value) else {
        return lookup == "isnull" && wanted == "true";
    };
    let (lower, wanted_lower) = (text.to_lowercase(), wanted.to_lowercase());
    match lookup {
        "exact" => text == wanted,
        "iexact" => lower == wanted_lower,
        "contains" => text.contains(&wanted),
        "icontains" => lower.contains(&wanted_lower),
        "startswith" => text.starts_with(&wanted),
        "istartswith" => lower.starts_with(&wanted_lower),
        "endswith" => text.ends_with(&wanted),
        "iendswith" => lower.ends_with(&wanted_lower),
        "in" => wanted.split(',').any(|w| w == text),
        "gt" | "gte" | "lt" | "lte" => match (text.parse::<f64>(), wanted.parse::<f64>()) {
            (Ok(a), Ok(b)) => match lookup {
                "gt" => a > b,
                "gte" => a >= b,
                "lt" => a < b,
                _ => a <= b,
            },
            _ => false,
        },
        _ => false,
    }
}

/// `limit` and `offset` of a list request, with Tastypie's refusals.
pub fn paging(query: &QueryParams) -> Result<(usize, usize), FacApiError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => {
            let limit: i64 = text.trim().parse().map_err(|_| {
                FacApiError::BadRequest(format!(
                    "Invalid limit '{text}' provided. Please provide a positive integer."
                ))
            })?;
            if limit < 0 {
                return Err(FacApiError::BadRequest(format!(
                    "Invalid limit '{text}' provided. Please provide a positive integer >= 0."
                )));
            }
            let limit = usize::try_from(limit).unwrap_or(MAX_LIMIT);
            if limit == 0 || limit > MAX_LIMIT {
                MAX_LIMIT
            } else {
                limit
            }
        }
    };
    let offset = match query.get("offset") {
        None => 0,
        Some(text) => {
            let offset: i64 = text.trim().parse().map_err(|_| {
                FacApiError::BadRequest(format!(
                    "Invalid offset '{text}' provided. Please provide an integer."
                ))
            })?;
            usize::try_from(offset).map_err(|_| {
                FacApiError::BadRequest(format!(
                    "Invalid offset '{text}' provided. Please provide a positive integer >= 0."
                ))
            })?
        }
    };
    Ok((limit, offset))
}

/// The path of another page: `path?<the other parameters>&limit=…&offset=…`.
fn page_uri(path: &str, query: &QueryParams, limit: usize, offset: usize) -> String {
    let mut params: Vec<(String, String)> = query
        .0
        .iter()
        .filter(|(k, _)| k != "limit" && k != "offset")
        .cloned()
        .collect();
    params.push(("limit".to_owned(), limit.to_string()));
    params.push(("offset".to_owned(), offset.to_string()));
    let encoded = serde_urlencoded::to_string(&params).unwrap_or_default();
    format!("{path}?{encoded}")
}

/// One page of `objects` (already filtered, in order) as Tastypie answers a list.
pub fn page(
    objects: Vec<Value>,
    path: &str,
    query: &QueryParams,
) -> Result<Page<Value>, FacApiError> {
    let (limit, offset) = paging(query)?;
    let total_count = objects.len();
    let next = (offset.saturating_add(limit) < total_count)
        .then(|| page_uri(path, query, limit, offset + limit));
    let previous = (offset > 0).then(|| page_uri(path, query, limit, offset.saturating_sub(limit)));
    let objects = objects.into_iter().skip(offset).take(limit).collect();
    Ok(Page {
        meta: Meta {
            limit,
            next,
            offset,
            previous,
            total_count,
        },
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(text: &str) -> QueryParams {
        QueryParams::parse(text).unwrap()
    }

    #[test]
    fn pages_follow_tastypie() {
        let objects: Vec<Value> = (0..45).map(|i| json!({"id": i})).collect();
        let first = page(objects.clone(), "/api/v1/fortitokens/", &query("")).unwrap();
        assert_eq!(first.meta.limit, 20);
        assert_eq!(first.meta.total_count, 45);
        assert_eq!(
            first.meta.next.as_deref(),
            Some("/api/v1/fortitokens/?limit=20&offset=20")
        );
        assert_eq!(first.meta.previous, None);
        let last = page(
            objects.clone(),
            "/api/v1/fortitokens/",
            &query("format=json&limit=20&offset=40"),
        )
        .unwrap();
        assert_eq!(last.objects.len(), 5);
        assert_eq!(last.meta.next, None);
        assert_eq!(
            last.meta.previous.as_deref(),
            Some("/api/v1/fortitokens/?format=json&limit=20&offset=20")
        );
        assert_eq!(
            page(objects.clone(), "/x/", &query("limit=0"))
                .unwrap()
                .meta
                .limit,
            1000
        );
        assert_eq!(
            page(objects.clone(), "/x/", &query("limit=5000"))
                .unwrap()
                .meta
                .limit,
            1000
        );
        for bad in ["limit=x", "limit=-1", "offset=y", "offset=-3"] {
            assert!(page(objects.clone(), "/x/", &query(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_follow_django() {
        let objects = vec![
            json!({"serial": "FTKMOB00000000A1", "status": "available", "locked": false}),
            json!({"serial": "FTKMOB00000000B2", "status": "assigned", "locked": true}),
        ];
        let rules = [
            Filterable {
                field: "serial",
                lookups: TEXT,
            },
            Filterable {
                field: "status",
                lookups: EXACT,
            },
            Filterable {
                field: "locked",
                lookups: EXACT,
            },
        ];
        let got = filter(
            objects.clone(),
            &query("serial__iexact=ftkmob00000000a1"),
            &rules,
        )
        .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            filter(objects.clone(), &query("status=assigned"), &rules)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            filter(objects.clone(), &query("locked=True"), &rules)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            filter(
                objects.clone(),
                &query("status__in=available,assigned"),
                &rules
            )
            .unwrap()
            .len(),
            2
        );
        assert_eq!(
            filter(objects.clone(), &query("nosuchfield=1"), &rules)
                .unwrap()
                .len(),
            2
        );
        let error = filter(objects.clone(), &query("status__icontains=x"), &rules).unwrap_err();
        assert_eq!(
            error.to_string(),
            "'icontains' is not an allowed filter on the 'status' field."
        );
        let error = filter(objects, &query("locked=true"), &rules[..2]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "The 'locked' field does not allow filtering."
        );
        assert!(
            QueryParams::parse("format=xml")
                .unwrap()
                .check_format()
                .is_err()
        );
    }
}
