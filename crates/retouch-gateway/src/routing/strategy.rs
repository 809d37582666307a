//! Routing strategies: a closed enum, each variant's doc comment its recipe. The executor in
//! [`super`] dispatches on it with one `match`.

use super::condition::Query;
use crate::config::Node;

/// How a config with `targets` picks among them.
#[derive(Debug, Clone)]
pub(crate) enum Strategy {
    /// `single`:
    /// 1. Run `targets[0]`.
    /// 2. Its answer (success or failure) is the answer.
    Single,
    /// `fallback`:
    /// 1. Run the targets in order.
    /// 2. The first success is the answer.
    /// 3. A failure whose status is in `on_status_codes` (any failure when unset) moves on to
    ///    the next target; any other failure is the answer. Our own 4xx for the caller's input
    ///    (validation) never falls back: every target would refuse it.
    /// 4. When no target is left, the last failure is the answer.
    Fallback {
        /// Statuses that move on; `None` means every failure does.
        on_status_codes: Option<Vec<u16>>,
    },
    /// `loadbalance`:
    /// 1. Leave out targets of weight 0 (never chosen).
    /// 2. Pick one at random, each with probability weight / sum of weights.
    /// 3. Run it; its answer is the answer.
    Loadbalance,
    /// `conditional`:
    /// 1. Build the facts: `metadata.*` from `x-portkey-metadata`, `params.*` from the request's
    ///    fields (multipart or JSON alike), `url.pathname`.
    /// 2. Evaluate `conditions` in order; the first whose query holds names the target (`then`).
    /// 3. If none holds, `default` names it; with no default the request is refused (400).
    /// 4. Run the named target; its answer is the answer.
    Conditional {
        /// `(query, target name)` in order.
        conditions: Vec<(Query, String)>,
        /// Target name when no condition holds.
        default: Option<String>,
    },
}

/// Picks a target index by weight; `None` when every weight is 0 (validation forbids that).
pub(crate) fn pick_weighted(targets: &[Node], rng: &mut impl rand::Rng) -> Option<usize> {
    let total: f64 = targets.iter().map(|t| t.weight.max(0.0)).sum();
    if total <= 0.0 {
        return None;
    }
    let mut point = rng.random_range(0.0..total);
    let mut last = None;
    for (i, target) in targets.iter().enumerate() {
        if target.weight <= 0.0 {
            continue;
        }
        last = Some(i);
        if point < target.weight {
            return Some(i);
        }
        point -= target.weight;
    }
    // Rounding can leave `point` a hair above the last positive weight.
    last
}

/// Picks the target a conditional strategy names for `facts`.
pub(crate) fn pick_conditional(
    targets: &[Node],
    conditions: &[(Query, String)],
    default: Option<&str>,
    facts: &serde_json::Value,
) -> Option<usize> {
    let name = conditions
        .iter()
        .find(|(query, _)| query.matches(facts))
        .map(|(_, then)| then.as_str())
        .or(default)?;
    targets.iter().position(|t| t.name.as_deref() == Some(name))
}

/// A fresh random source for one routing decision.
pub(crate) fn rng() -> impl rand::Rng {
    rand::rng()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeKind;
    use crate::config::RouteConfig;

    fn targets(json: &str) -> Vec<Node> {
        match RouteConfig::from_json(json).unwrap().root.kind {
            NodeKind::Group { targets, .. } => targets,
            NodeKind::Leaf(_) => panic!("expected a group"),
        }
    }

    #[test]
    fn weight_zero_is_never_chosen() {
        let t = targets(
            r#"{"strategy":{"mode":"loadbalance"},"targets":[
                {"provider":"local","weight":0},{"provider":"local","weight":1},{"provider":"local","weight":0}]}"#,
        );
        let mut rng = rng();
        for _ in 0..2000 {
            assert_eq!(pick_weighted(&t, &mut rng), Some(1));
        }
    }

    #[test]
    fn weights_split_traffic_roughly_in_proportion() {
        let t = targets(
            r#"{"strategy":{"mode":"loadbalance"},"targets":[
                {"provider":"local","weight":1},{"provider":"local","weight":3}]}"#,
        );
        let mut rng = rng();
        let second = (0..4000)
            .filter(|_| pick_weighted(&t, &mut rng) == Some(1))
            .count();
        assert!((2700..3300).contains(&second), "{second}");
    }
}
