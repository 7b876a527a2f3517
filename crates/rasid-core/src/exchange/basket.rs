//! Standardised basket contracts: an instrument defined by criteria instead of one project.
//!
//! Sellers deposit eligible holdings into a basket (the serials move to reserved, held by the
//! deposit, with a priority). A sell order in a basket instrument draws from the seller's
//! deposits — by priority (lower first), then oldest vintage, then lowest serial — and a fill
//! delivers exactly those serials, so the trade names every project, vintage and serial range the
//! buyer received. Free deposits can be withdrawn. When the operator changes a basket's criteria,
//! deposits that no longer qualify go back to their owners; serials already held by open orders
//! stay with those orders and, if the order is cancelled, go back to available rather than into
//! an ineligible deposit.
//!
//! The instrument-neutral helpers at the bottom (`underlying_available`, `reserve_underlying`,
//! `release_underlying`) are what orders and auction lots use for both kinds of instrument.

use super::Underlying;
use super::engine::Serials;
use crate::event::Event;
use crate::ids::{AccountId, IssuanceId, OrgId, ProjectId};
use crate::model::{Basis, CorsiaPhase, Effect, Program};
use crate::rejection::Rejection;
use crate::serial::RangeSet;
use crate::state::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Values one criterion list may hold: bounds the work of an eligibility check.
pub const CRITERION_VALUES_MAX: usize = 300;

crate::ids::id_type!(
    /// A basket contract's definition.
    BasketId, "bsk"
);

/// What a credit must be to go into a basket. An empty list accepts anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketCriteria {
    pub programs: Vec<Program>,
    pub effects: Vec<Effect>,
    pub bases: Vec<Basis>,
    pub project_types: Vec<String>,
    /// Countries or regions, as the projects name them; either matching qualifies.
    pub places: Vec<String>,
    pub vintage_min: Option<u16>,
    pub vintage_max: Option<u16>,
    /// The issuance must carry this CORSIA phase label.
    pub corsia: Option<CorsiaPhase>,
    pub ccp: bool,
    pub article6_authorised: bool,
    /// Minimum project rating (0–100, as set by the registrar).
    pub rating_min: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basket {
    pub id: BasketId,
    pub name: String,
    pub criteria: BasketCriteria,
}

/// One account's deposit of one issuance into one basket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    pub priority: u32,
    /// Serials in the basket and not held by an order (counted as reserved in the holding).
    pub free: RangeSet,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketState {
    pub(crate) baskets: BTreeMap<BasketId, Basket>,
    pub(crate) deposits: BTreeMap<(BasketId, AccountId, IssuanceId), Deposit>,
    pub(crate) ratings: BTreeMap<ProjectId, u8>,
    pub(crate) next_basket: u64,
}

type Outcome = Result<Vec<Event>, Rejection>;

impl State {
    pub fn basket(&self, id: BasketId) -> Option<&Basket> {
        self.baskets.baskets.get(&id)
    }

    pub fn baskets(&self) -> impl Iterator<Item = &Basket> {
        self.baskets.baskets.values()
    }

    pub fn project_rating(&self, project: ProjectId) -> Option<u8> {
        self.baskets.ratings.get(&project).copied()
    }

    /// `(basket, account, issuance, deposit)` for every deposit, in key order.
    pub fn deposits(&self) -> impl Iterator<Item = (BasketId, AccountId, IssuanceId, &Deposit)> {
        self.baskets.deposits.iter().map(|((b, a, i), d)| (*b, *a, *i, d))
    }

    /// Why an issuance does not qualify for a basket, or `Ok`.
    pub fn basket_eligibility(
        &self,
        criteria: &BasketCriteria,
        issuance: IssuanceId,
    ) -> Result<(), Rejection> {
        let iss = self.issuances.get(&issuance).ok_or(Rejection::UnknownIssuance)?;
        let p = &self.projects[&iss.project].info;
        let any = |list: &[String], v: &str| {
            list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(v))
        };
        if !criteria.programs.is_empty() && !criteria.programs.contains(&p.program) {
            return Err(Rejection::BasketProgram);
        }
        let effect_ok = criteria.effects.is_empty() || criteria.effects.contains(&p.effect);
        let basis_ok = criteria.bases.is_empty() || criteria.bases.contains(&p.basis);
        if !effect_ok || !basis_ok {
            return Err(Rejection::BasketCategory);
        }
        if !any(&criteria.project_types, &p.project_type) {
            return Err(Rejection::BasketProjectType);
        }
        if !criteria.places.is_empty()
            && !any(&criteria.places, &p.country)
            && !any(&criteria.places, &p.region)
        {
            return Err(Rejection::BasketPlace);
        }
        let too_old = criteria.vintage_min.is_some_and(|v| iss.vintage_year < v);
        let too_new = criteria.vintage_max.is_some_and(|v| iss.vintage_year > v);
        if too_old || too_new {
            return Err(Rejection::BasketVintage);
        }
        let l = &iss.labels;
        let corsia_ok = criteria.corsia.is_none_or(|c| l.corsia == Some(c));
        if !corsia_ok
            || (criteria.ccp && !l.ccp)
            || (criteria.article6_authorised && l.article6.is_none())
        {
            return Err(Rejection::BasketLabel);
        }
        if criteria
            .rating_min
            .is_some_and(|min| self.project_rating(iss.project).is_none_or(|r| r < min))
        {
            return Err(Rejection::BasketRating);
        }
        Ok(())
    }

    pub(crate) fn create_basket(&mut self, name: &str, criteria: &BasketCriteria) -> Outcome {
        crate::engine::check_name(name)?;
        check_criteria(criteria)?;
        let id = BasketId(self.baskets.next_basket + 1);
        self.baskets.next_basket += 1;
        self.baskets
            .baskets
            .insert(id, Basket { id, name: name.to_owned(), criteria: criteria.clone() });
        Ok(vec![Event::BasketCreated { basket: id }])
    }

    /// Changes a basket's criteria; free serials of deposits that no longer qualify go back to
    /// their owners' available holdings.
    pub(crate) fn set_basket_criteria(
        &mut self,
        id: BasketId,
        criteria: &BasketCriteria,
    ) -> Outcome {
        check_criteria(criteria)?;
        let basket = self.baskets.baskets.get_mut(&id).ok_or(Rejection::UnknownBasket)?;
        basket.criteria = criteria.clone();
        let keys: Vec<(BasketId, AccountId, IssuanceId)> = self
            .baskets
            .deposits
            .range(
                (id, AccountId(0), IssuanceId(0))..=(id, AccountId(u64::MAX), IssuanceId(u64::MAX)),
            )
            .map(|(k, _)| *k)
            .collect();
        let mut events = vec![Event::BasketCriteriaSet { basket: id }];
        for key in keys {
            if self.basket_eligibility(criteria, key.2).is_err() {
                let deposit = self.baskets.deposits.remove(&key).expect("listed above");
                if !deposit.free.is_empty() {
                    self.release_serials(
                        key.1,
                        Serials::from_vec(vec![(key.2, deposit.free.clone())]),
                    );
                }
                events.push(Event::BasketDepositReturned {
                    basket: id,
                    account: key.1,
                    issuance: key.2,
                    serials: deposit.free,
                });
            }
        }
        Ok(events)
    }

    pub(crate) fn set_project_rating(&mut self, project: ProjectId, rating: Option<u8>) -> Outcome {
        if !self.projects.contains_key(&project) {
            return Err(Rejection::UnknownProject);
        }
        if rating.is_some_and(|r| r > 100) {
            return Err(Rejection::InvalidRating);
        }
        match rating {
            Some(r) => self.baskets.ratings.insert(project, r),
            None => self.baskets.ratings.remove(&project),
        };
        Ok(vec![Event::ProjectRated { project, rating }])
    }

    pub(crate) fn deposit_to_basket(
        &mut self,
        actor: OrgId,
        basket: BasketId,
        account: AccountId,
        issuance: IssuanceId,
        quantity: u64,
        priority: u32,
    ) -> Outcome {
        let criteria = &self.baskets.baskets.get(&basket).ok_or(Rejection::UnknownBasket)?.criteria;
        if self.accounts.get(&account).ok_or(Rejection::UnknownAccount)?.org != actor {
            return Err(Rejection::Unauthorized);
        }
        self.basket_eligibility(criteria, issuance)?;
        if quantity == 0 {
            return Err(Rejection::ZeroQuantity);
        }
        let holding =
            self.holdings.get_mut(&(account, issuance)).ok_or(Rejection::InsufficientCredits)?;
        let serials =
            holding.available.take_lowest(quantity).map_err(|_| Rejection::InsufficientCredits)?;
        holding.reserved_tonnes += quantity;
        let deposit = self.baskets.deposits.entry((basket, account, issuance)).or_default();
        deposit.priority = priority;
        deposit.free.union_disjoint(&serials).expect("audit: a serial is in exactly one place");
        Ok(vec![Event::BasketDeposited { basket, account, issuance, serials, priority }])
    }

    pub(crate) fn withdraw_from_basket(
        &mut self,
        actor: OrgId,
        basket: BasketId,
        account: AccountId,
        issuance: IssuanceId,
        quantity: u64,
    ) -> Outcome {
        if self.accounts.get(&account).ok_or(Rejection::UnknownAccount)?.org != actor {
            return Err(Rejection::Unauthorized);
        }
        if quantity == 0 {
            return Err(Rejection::ZeroQuantity);
        }
        let key = (basket, account, issuance);
        let deposit = self.baskets.deposits.get_mut(&key).ok_or(Rejection::UnknownDeposit)?;
        // Serials held by open orders are not free; only the free part can leave.
        let serials =
            deposit.free.take_lowest(quantity).map_err(|_| Rejection::InsufficientCredits)?;
        // An emptied deposit stays: open orders may still hold serials from it, and if they are
        // cancelled those serials return to it with its priority.
        self.release_serials(account, Serials::from_vec(vec![(issuance, serials.clone())]));
        Ok(vec![Event::BasketWithdrawn { basket, account, issuance, serials }])
    }

    /// The order in which a basket seller's deposits deliver: priority, oldest vintage, lowest
    /// serial. For a project-vintage instrument, lowest serial first.
    pub(crate) fn delivery_key(
        &self,
        underlying: &Underlying,
        account: AccountId,
        issuance: IssuanceId,
    ) -> (u32, u16, u64) {
        let iss = &self.issuances[&issuance];
        match underlying {
            Underlying::ProjectVintage { .. } => (0, 0, iss.block.first()),
            Underlying::Basket { basket } => {
                let priority = self
                    .baskets
                    .deposits
                    .get(&(*basket, account, issuance))
                    .map_or(u32::MAX, |d| d.priority);
                (priority, iss.vintage_year, iss.block.first())
            }
        }
    }

    /// Tonnes an account could sell in an instrument right now.
    pub(crate) fn underlying_available(&self, account: AccountId, underlying: &Underlying) -> u64 {
        match underlying {
            Underlying::ProjectVintage { project, vintage_year } => {
                self.class_available(account, *project, *vintage_year)
            }
            Underlying::Basket { basket } => self
                .basket_deposits_of(*basket, account)
                .map(|(_, d)| d.free.quantity_tonnes())
                .sum(),
        }
    }

    fn basket_deposits_of(
        &self,
        basket: BasketId,
        account: AccountId,
    ) -> impl Iterator<Item = (IssuanceId, &Deposit)> {
        self.baskets
            .deposits
            .range((basket, account, IssuanceId(0))..=(basket, account, IssuanceId(u64::MAX)))
            .map(|((_, _, i), d)| (*i, d))
    }

    /// Holds `quantity` tonnes for an order or lot: the lowest available serials of the class,
    /// or the first serials of the seller's basket deposits in delivery order. The caller has
    /// checked `underlying_available`.
    pub(crate) fn reserve_underlying(
        &mut self,
        account: AccountId,
        underlying: &Underlying,
        quantity: u64,
    ) -> Serials {
        match underlying {
            Underlying::ProjectVintage { project, vintage_year } => {
                self.reserve_class(account, *project, *vintage_year, quantity)
            }
            Underlying::Basket { basket } => {
                let mut order: Vec<IssuanceId> = self
                    .basket_deposits_of(*basket, account)
                    .filter(|(_, d)| !d.free.is_empty())
                    .map(|(i, _)| i)
                    .collect();
                order.sort_by_key(|i| self.delivery_key(underlying, account, *i));
                let mut need = quantity;
                let mut out = Serials::new();
                for issuance in order {
                    if need == 0 {
                        break;
                    }
                    let d = self
                        .baskets
                        .deposits
                        .get_mut(&(*basket, account, issuance))
                        .expect("listed above");
                    let take = d.free.quantity_tonnes().min(need);
                    out.push(issuance, d.free.take_lowest(take).expect("bounded by the deposit"));
                    need -= take;
                }
                assert_eq!(need, 0, "underlying_available was checked before reserving");
                out
            }
        }
    }

    /// Gives back what an order or lot held: to available for a project-vintage instrument; to
    /// the deposits for a basket, or to available where the deposit no longer qualifies.
    pub(crate) fn release_underlying(
        &mut self,
        account: AccountId,
        underlying: &Underlying,
        serials: Serials,
    ) {
        let Underlying::Basket { basket } = underlying else {
            self.release_serials(account, serials);
            return;
        };
        let criteria = self.baskets.baskets[basket].criteria.clone();
        for (issuance, set) in serials {
            let key = (*basket, account, issuance);
            let eligible = self.basket_eligibility(&criteria, issuance).is_ok();
            match self.baskets.deposits.get_mut(&key) {
                Some(d) if eligible => {
                    d.free.union_disjoint(&set).expect("audit: a serial is in exactly one place")
                }
                None if eligible => {
                    self.baskets.deposits.insert(key, Deposit { priority: u32::MAX, free: set });
                }
                _ => self.release_serials(account, Serials::from_vec(vec![(issuance, set)])),
            }
        }
    }

    /// Whether an issuance's serials can back an instrument (audit).
    pub(crate) fn underlying_admits(&self, underlying: &Underlying, issuance: IssuanceId) -> bool {
        match underlying {
            Underlying::ProjectVintage { project, vintage_year } => {
                self.class_issuances(*project, *vintage_year).contains(&issuance)
            }
            Underlying::Basket { basket } => {
                self.baskets.baskets.contains_key(basket) && self.issuances.contains_key(&issuance)
            }
        }
    }
}

fn check_criteria(c: &BasketCriteria) -> Result<(), Rejection> {
    let lists_ok =
        [c.project_types.len(), c.places.len(), c.programs.len(), c.effects.len(), c.bases.len()]
            .iter()
            .all(|n| *n <= CRITERION_VALUES_MAX);
    let window_ok = match (c.vintage_min, c.vintage_max) {
        (Some(a), Some(b)) => a <= b,
        _ => true,
    };
    if lists_ok && window_ok && c.rating_min.is_none_or(|r| r <= 100) {
        Ok(())
    } else {
        Err(Rejection::InvalidBasket)
    }
}
