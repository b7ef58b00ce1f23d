//! ACL and condition evaluation with 1.4's three-valued logic.
//!
//! Keywords: `if`/`unless` conditions (`or`, `||`, `!`, anonymous `{ ... }` ACLs) used by
//! `block`, `http-request`, `tcp-request content`, `use_backend`, `redirect`, `reqadd`,
//! `force-persist`, `stick`, `monitor fail`, `stats admin`, ...
//!
//! Compare with 1.4 `acl_exec_cond` (`src/acl.c`) and its callers (e.g.
//! `tcp_inspect_request` in `src/proto_tcp.c`). An expression is `Pass` when any fetched
//! value matches any pattern; a named ACL ORs its expressions; a term ANDs its (possibly
//! negated) ACLs; a condition ORs its terms, stopping early as 1.4 does. `Miss` ("the answer
//! may still change") only appears in [`Phase::Partial`], i.e. while `tcp-request
//! inspect-delay` allows waiting for more data; negation keeps it a `Miss`, `Pass` wins over
//! it in an OR and `Fail` wins over it in an AND. In [`Phase::Final`] a miss is a `Fail`.

use super::fetch::{self, AclContext, Sample};
use super::matcher;
use parser::ir::{AclDef, AclExpr, AclRef, Condition};
use std::ops::ControlFlow;

/// Result of an ACL, term or raw condition (1.4 `ACL_PAT_FAIL`/`MISS`/`PASS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclResult {
    Fail,
    /// Not decidable yet: more request data may change the answer.
    Miss,
    Pass,
}

impl AclResult {
    /// Three-valued OR: `Pass` dominates, then `Miss`.
    pub fn or(self, other: AclResult) -> AclResult {
        match (self, other) {
            (AclResult::Pass, _) | (_, AclResult::Pass) => AclResult::Pass,
            (AclResult::Miss, _) | (_, AclResult::Miss) => AclResult::Miss,
            _ => AclResult::Fail,
        }
    }

    /// Three-valued AND: `Fail` dominates, then `Miss`.
    pub fn and(self, other: AclResult) -> AclResult {
        match (self, other) {
            (AclResult::Fail, _) | (_, AclResult::Fail) => AclResult::Fail,
            (AclResult::Miss, _) | (_, AclResult::Miss) => AclResult::Miss,
            _ => AclResult::Pass,
        }
    }

    /// Negation (`!`): swaps `Pass` and `Fail`, keeps `Miss`.
    pub fn negate(self) -> AclResult {
        match self {
            AclResult::Pass => AclResult::Fail,
            AclResult::Fail => AclResult::Pass,
            AclResult::Miss => AclResult::Miss,
        }
    }
}

/// When a condition is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `tcp-request content` while more data may come (1.4 `ACL_PARTIAL`): the frontend has
    /// a `tcp-request inspect-delay`, it has not expired and the client has not shut its
    /// side. Undecidable ACLs report `Miss`.
    Partial,
    /// Everything else, including `tcp-request content` once the delay expired.
    Final,
}

/// What a rule should do with its condition's outcome (polarity applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `if` condition true, or `unless` condition false: the rule applies.
    Match,
    NoMatch,
    /// Wait for more data and evaluate again (only in [`Phase::Partial`]).
    Wait,
}

/// Evaluates one expression: `Pass` when any sample the fetch yields matches; a fetch that
/// reports possible changes turns a non-match into `Miss` in [`Phase::Partial`].
pub fn eval_expr<C: AclContext>(expr: &AclExpr, ctx: &C, phase: Phase) -> AclResult {
    let partial = phase == Phase::Partial;
    let mut matched = false;
    let status = fetch::fetch(&expr.fetch, ctx, partial, |sample: Sample<'_>| {
        if matcher::match_sample(&expr.matcher, &sample) {
            matched = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if matched {
        AclResult::Pass
    } else if partial && status.may_change {
        AclResult::Miss
    } else {
        AclResult::Fail
    }
}

/// Evaluates an ACL reference: a named ACL ORs its expressions (stopping at the first
/// `Pass`); an anonymous one is a single expression. An index outside `acls` fails.
pub fn eval_acl<C: AclContext>(acl: &AclRef, acls: &[AclDef], ctx: &C, phase: Phase) -> AclResult {
    match acl {
        AclRef::Anonymous(expr) => eval_expr(expr, ctx, phase),
        AclRef::Named(idx) => {
            let Some(def) = acls.get(*idx) else {
                return AclResult::Fail;
            };
            let mut res = AclResult::Fail;
            for expr in &def.exprs {
                res = res.or(eval_expr(expr, ctx, phase));
                if res == AclResult::Pass {
                    break;
                }
            }
            res
        }
    }
}

/// The raw condition result without `unless` (1.4 `acl_exec_cond`). `acls` is the
/// evaluating proxy's ACL list, which [`AclRef::Named`] indexes.
pub fn exec_cond<C: AclContext>(
    cond: &Condition,
    acls: &[AclDef],
    ctx: &C,
    phase: Phase,
) -> AclResult {
    let mut cond_res = AclResult::Fail;
    for term in &cond.terms {
        let mut term_res = AclResult::Pass;
        for t in term {
            let mut r = eval_acl(&t.acl, acls, ctx, phase);
            if t.negate {
                r = r.negate();
            }
            term_res = term_res.and(r);
            if term_res == AclResult::Fail {
                break;
            }
        }
        cond_res = cond_res.or(term_res);
        if cond_res == AclResult::Pass {
            break;
        }
    }
    if phase == Phase::Final && cond_res == AclResult::Miss {
        // Cannot happen with 1.4's fetches; kept so a final answer is always definite.
        cond_res = AclResult::Fail;
    }
    cond_res
}

/// Evaluates a rule's condition with its polarity: `Wait` on a miss, else whether the rule
/// applies. A `tcp-request content` loop stops at the first `Wait` (1.4 then arms the
/// inspect delay once) and re-runs every rule from the first when data arrives or the delay
/// expires, the latter with [`Phase::Final`].
pub fn cond_verdict<C: AclContext>(
    cond: &Condition,
    acls: &[AclDef],
    ctx: &C,
    phase: Phase,
) -> Verdict {
    let pass = match exec_cond(cond, acls, ctx, phase) {
        AclResult::Miss => return Verdict::Wait,
        AclResult::Pass => true,
        AclResult::Fail => false,
    };
    if pass != cond.unless {
        Verdict::Match
    } else {
        Verdict::NoMatch
    }
}

/// Final evaluation of a rule's condition: whether the rule applies.
pub fn cond_matches<C: AclContext>(cond: &Condition, acls: &[AclDef], ctx: &C) -> bool {
    cond_verdict(cond, acls, ctx, Phase::Final) == Verdict::Match
}

/// Like [`cond_matches`] for an optional condition: a rule without one always applies.
pub fn rule_applies<C: AclContext>(cond: Option<&Condition>, acls: &[AclDef], ctx: &C) -> bool {
    cond.is_none_or(|c| cond_matches(c, acls, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [AclResult; 3] = [AclResult::Fail, AclResult::Miss, AclResult::Pass];

    /// 1.4 encodes FAIL=0, MISS=1, PASS=3 and uses bitwise `|`/`&`; check we agree.
    fn code(r: AclResult) -> u8 {
        match r {
            AclResult::Fail => 0,
            AclResult::Miss => 1,
            AclResult::Pass => 3,
        }
    }

    #[test]
    fn three_valued_logic_matches_1_4_bit_encoding() {
        for a in ALL {
            for b in ALL {
                assert_eq!(code(a.or(b)), code(a) | code(b), "{a:?} or {b:?}");
                assert_eq!(code(a.and(b)), code(a) & code(b), "{a:?} and {b:?}");
            }
        }
        assert_eq!(AclResult::Miss.negate(), AclResult::Miss);
        assert_eq!(AclResult::Pass.negate(), AclResult::Fail);
        assert_eq!(AclResult::Fail.negate(), AclResult::Pass);
    }
}
