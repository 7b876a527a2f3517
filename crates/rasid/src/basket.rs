//! Basket contracts from the command line.

use crate::cli::{BasketCmd, CriteriaArgs};
use crate::output::{Failure, Output};
use crate::registry::{Ctx, accepted};
use rasid_core::exchange::basket::{Basket, BasketCriteria};
use rasid_core::{Command, State};
use serde_json::{Value, json};

fn criteria(a: CriteriaArgs) -> BasketCriteria {
    BasketCriteria {
        programs: a.programs,
        effects: a.effects,
        bases: a.bases,
        project_types: a.project_types,
        places: a.places,
        vintage_min: a.vintage_min,
        vintage_max: a.vintage_max,
        corsia: a.corsia,
        ccp: a.ccp,
        article6_authorised: a.article6,
        rating_min: a.rating_min,
    }
}

fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

fn basket_json(s: &State, b: &Basket) -> Value {
    let c = &b.criteria;
    let deposited: u64 =
        s.deposits().filter(|(id, ..)| *id == b.id).map(|(.., d)| d.free.quantity_tonnes()).sum();
    json!({
        "id": b.id.0, "name": b.name,
        "criteria": {
            "programs": c.programs.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "effects": c.effects.iter().map(lower).collect::<Vec<_>>(),
            "bases": c.bases.iter().map(lower).collect::<Vec<_>>(),
            "project_types": c.project_types, "places": c.places,
            "vintage_min": c.vintage_min, "vintage_max": c.vintage_max,
            "corsia": c.corsia.map(lower), "ccp": c.ccp, "article6_authorised": c.article6_authorised,
            "rating_min": c.rating_min,
        },
        "free_deposited_tonnes": deposited,
    })
}

pub fn run(ctx: &Ctx, cmd: BasketCmd) -> Result<Output, Failure> {
    match cmd {
        BasketCmd::Create { name, criteria: c } => accepted(
            ctx,
            ctx.submit(ctx.operator()?, Command::CreateBasket { name, criteria: criteria(c) })?,
        ),
        BasketCmd::Criteria { basket, criteria: c } => accepted(
            ctx,
            ctx.submit(
                ctx.operator()?,
                Command::SetBasketCriteria { basket, criteria: criteria(c) },
            )?,
        ),
        BasketCmd::List => ctx.read(|s| {
            let rows: Vec<Value> = s.baskets().map(|b| basket_json(s, b)).collect();
            let text = s
                .baskets()
                .map(|b| format!("{:<6} {}", b.id.to_string(), b.name))
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(text, json!({ "baskets": rows }))
        }),
        BasketCmd::Deposit { basket, account, issuance, quantity, priority } => {
            let command = Command::DepositToBasket {
                basket,
                account,
                issuance,
                quantity_tonnes: quantity,
                priority,
            };
            accepted(ctx, ctx.submit(ctx.owner(account)?, command)?)
        }
        BasketCmd::Withdraw { basket, account, issuance, quantity } => {
            let command = Command::WithdrawFromBasket {
                basket,
                account,
                issuance,
                quantity_tonnes: quantity,
            };
            accepted(ctx, ctx.submit(ctx.owner(account)?, command)?)
        }
        BasketCmd::Rate { project, rating } => accepted(
            ctx,
            ctx.submit(ctx.registrar()?, Command::SetProjectRating { project, rating })?,
        ),
    }
}
