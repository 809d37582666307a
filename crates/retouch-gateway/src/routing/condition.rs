//! Conditional-routing queries (Portkey's `strategy.conditions[].query`): a small Mongo-style
//! language over the request's facts — `metadata.*`, `params.*`, `url.pathname`.
//!
//! Operators: `$eq $ne $gt $gte $lt $lte $in $nin $regex $and $or`; a bare value means `$eq`.
//! Queries are parsed once, at config validation, so a bad regex or operator is a 400 naming
//! its path rather than a silent non-match.

use regex::Regex;
use serde_json::Value;

use crate::config::ConfigError;

/// A parsed query.
#[derive(Debug, Clone)]
pub(crate) enum Query {
    /// Every sub-query holds (also an object with several keys).
    And(Vec<Query>),
    /// Some sub-query holds.
    Or(Vec<Query>),
    /// The fact at `key` (a dotted path) passes every operator.
    Field { key: String, ops: Vec<Op> },
}

/// One comparison.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Eq(Value),
    Ne(Value),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Regex(Regex),
}

impl Query {
    /// Parses a query object; errors name `path`.
    pub(crate) fn parse(value: &Value, path: &str) -> Result<Self, ConfigError> {
        let Value::Object(map) = value else {
            return Err(err(path, "must be an object"));
        };
        if map.is_empty() {
            return Err(err(path, "must not be empty"));
        }
        let mut all = Vec::with_capacity(map.len());
        for (key, value) in map {
            let at = format!("{path}.{key}");
            let query = match key.as_str() {
                "$and" | "$or" => {
                    let Value::Array(items) = value else {
                        return Err(err(&at, "must be an array of queries"));
                    };
                    let subs = items
                        .iter()
                        .enumerate()
                        .map(|(i, q)| Self::parse(q, &format!("{at}[{i}]")))
                        .collect::<Result<Vec<_>, _>>()?;
                    if key == "$and" {
                        Self::And(subs)
                    } else {
                        Self::Or(subs)
                    }
                }
                op if op.starts_with('$') => {
                    return Err(err(
                        &at,
                        "is not an operator at this level; use $and or $or",
                    ));
                }
                field => Self::Field {
                    key: field.to_owned(),
                    ops: ops(value, &at)?,
                },
            };
            all.push(query);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Self::And(all)
        })
    }

    /// Whether the query holds for `facts` (`{"metadata":{…},"params":{…},"url":{…}}`).
    pub(crate) fn matches(&self, facts: &Value) -> bool {
        match self {
            Self::And(subs) => subs.iter().all(|q| q.matches(facts)),
            Self::Or(subs) => subs.iter().any(|q| q.matches(facts)),
            Self::Field { key, ops } => {
                let fact = lookup(facts, key);
                ops.iter().all(|op| op.holds(fact))
            }
        }
    }
}

fn err(path: &str, message: &str) -> ConfigError {
    ConfigError {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn ops(value: &Value, path: &str) -> Result<Vec<Op>, ConfigError> {
    let Value::Object(map) = value else {
        return Ok(vec![Op::Eq(value.clone())]);
    };
    if !map.keys().any(|k| k.starts_with('$')) {
        return Ok(vec![Op::Eq(value.clone())]);
    }
    map.iter()
        .map(|(op, operand)| {
            let at = format!("{path}.{op}");
            let list = || match operand {
                Value::Array(items) => Ok(items.clone()),
                Value::Null
                | Value::Bool(_)
                | Value::Number(_)
                | Value::String(_)
                | Value::Object(_) => Err(err(&at, "must be an array")),
            };
            Ok(match op.as_str() {
                "$eq" => Op::Eq(operand.clone()),
                "$ne" => Op::Ne(operand.clone()),
                "$gt" => Op::Gt(operand.clone()),
                "$gte" => Op::Gte(operand.clone()),
                "$lt" => Op::Lt(operand.clone()),
                "$lte" => Op::Lte(operand.clone()),
                "$in" => Op::In(list()?),
                "$nin" => Op::Nin(list()?),
                "$regex" => {
                    let pattern = operand
                        .as_str()
                        .ok_or_else(|| err(&at, "must be a string"))?;
                    Op::Regex(
                        Regex::new(pattern)
                            .map_err(|e| err(&at, &format!("is not a valid regex: {e}")))?,
                    )
                }
                _ => return Err(err(&at, "is not a known operator")),
            })
        })
        .collect()
}

/// The fact at a dotted path; `metadata.user.tier` walks nested objects.
fn lookup<'a>(facts: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(facts, |v, part| v.get(part))
}

/// Equality that treats `"2"` and `2` alike: multipart fields are text, configs write numbers.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => text(a).is_some_and(|x| text(b) == Some(x)),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Orders two facts: numerically when both are numbers, else as strings.
fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(text(a)?.cmp(&text(b)?)),
    }
}

impl Op {
    fn holds(&self, fact: Option<&Value>) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Eq(v) => fact.is_some_and(|f| loosely_equal(f, v)),
            Self::Ne(v) => !fact.is_some_and(|f| loosely_equal(f, v)),
            Self::Gt(v) => fact.and_then(|f| compare(f, v)) == Some(Greater),
            Self::Gte(v) => matches!(fact.and_then(|f| compare(f, v)), Some(Greater | Equal)),
            Self::Lt(v) => fact.and_then(|f| compare(f, v)) == Some(Less),
            Self::Lte(v) => matches!(fact.and_then(|f| compare(f, v)), Some(Less | Equal)),
            Self::In(list) => fact.is_some_and(|f| list.iter().any(|v| loosely_equal(f, v))),
            Self::Nin(list) => !fact.is_some_and(|f| list.iter().any(|v| loosely_equal(f, v))),
            Self::Regex(re) => fact.and_then(text).is_some_and(|t| re.is_match(&t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(v: Value) -> Query {
        Query::parse(&v, "q").unwrap()
    }

    #[test]
    fn operators_match_metadata_and_params() {
        let facts = json!({"metadata": {"tier": "pro", "age": "42"}, "params": {"model": "dall-e-2", "n": 2}});
        assert!(q(json!({"metadata.tier": {"$eq": "pro"}})).matches(&facts));
        assert!(q(json!({"metadata.tier": "pro"})).matches(&facts));
        assert!(!q(json!({"metadata.tier": {"$ne": "pro"}})).matches(&facts));
        assert!(q(json!({"metadata.age": {"$gt": 40, "$lte": 42}})).matches(&facts));
        assert!(q(json!({"params.n": {"$in": ["2", 3]}})).matches(&facts));
        assert!(q(json!({"params.model": {"$regex": "^dall-e"}})).matches(&facts));
        assert!(q(json!({"$or": [{"params.n": 5}, {"metadata.tier": "pro"}]})).matches(&facts));
        assert!(!q(json!({"$and": [{"params.n": 5}, {"metadata.tier": "pro"}]})).matches(&facts));
        assert!(q(json!({"metadata.missing": {"$nin": ["x"]}})).matches(&facts));
        assert!(!q(json!({"metadata.missing": {"$eq": "x"}})).matches(&facts));
    }

    #[test]
    fn bad_queries_name_their_path() {
        let e = Query::parse(&json!({"params.model": {"$regex": "("}}), "c[0].query").unwrap_err();
        assert_eq!(e.path, "c[0].query.params.model.$regex");
        let e = Query::parse(&json!({"params.n": {"$near": 1}}), "q").unwrap_err();
        assert_eq!(e.path, "q.params.n.$near");
    }
}
