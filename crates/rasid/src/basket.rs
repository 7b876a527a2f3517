//! Basket contracts from the command line.

use crate::cli::{BasketCmd, CriteriaArgs};
use crate::output::{Failure, Output};
use crate::registry::{Ctx, accepted};
use rasid_core::Command;
use rasid_core::exchange::basket::BasketCriteria;
use rasid_server::render::basket_json;
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

pub fn run(ctx: &Ctx, cmd: BasketCmd) -> Result<Output, Failure> {
    match cmd {
        BasketCmd::Create { name, criteria: c } => accepted(
            ctx,
            ctx.submit(
                ctx.operator()?,
                Command::CreateBasket { name, criteria: Box::new(criteria(c)) },
            )?,
        ),
        BasketCmd::Criteria { basket, criteria: c } => accepted(
            ctx,
            ctx.submit(
                ctx.operator()?,
                Command::SetBasketCriteria { basket, criteria: Box::new(criteria(c)) },
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
