//! What an award must satisfy, as plain functions over the locked tender,
//! its lots and the chosen bids: the rules are tested without a database.

use std::collections::HashSet;

use platform::{AppError, AppResult};
use uuid::Uuid;

use crate::{
    bid::model::{Bid, BidStatus},
    tender::model::{Tender, TenderStatus},
};

/// A tender is awarded once its deadline has passed, while published or
/// closed (never twice, never once cancelled).
pub fn awardable(t: &Tender) -> AppResult<()> {
    if !t.deadline_passed || !matches!(t.status, TenderStatus::Published | TenderStatus::Closed) {
        return Err(AppError::Conflict(
            "a tender is awarded once its deadline has passed, before it is awarded or cancelled".into(),
        ));
    }
    Ok(())
}

/// The chosen bids, in the order of `choices` (`(lot, bid)`, as the input's
/// `awards[i]`): exactly one per lot (one for an undivided tender), each a
/// submitted bid on this tender and that lot.
pub fn chosen<'b>(
    tender: Uuid,
    lots: &[Uuid],
    choices: &[(Option<Uuid>, Uuid)],
    bids: &'b [Bid],
) -> AppResult<Vec<&'b Bid>> {
    let wanted: HashSet<Option<Uuid>> = if lots.is_empty() {
        HashSet::from([None])
    } else {
        lots.iter().copied().map(Some).collect()
    };
    let given: HashSet<Option<Uuid>> = choices.iter().map(|(l, _)| *l).collect();
    if given != wanted || given.len() != choices.len() {
        return Err(AppError::bad_input(
            "awards",
            "give exactly one bid per lot (one for an undivided tender)",
        ));
    }
    choices
        .iter()
        .enumerate()
        .map(|(i, (lot, id))| {
            bids.iter()
                .find(|b| b.id == *id && b.tender_id == tender && b.lot_id == *lot && b.status == BidStatus::Submitted)
                .ok_or_else(|| {
                    AppError::bad_input(
                        format!("awards[{i}].bidId"),
                        "is not a submitted bid on this tender and lot",
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn bid(tender: Uuid, lot: Option<Uuid>, status: BidStatus) -> Bid {
        Bid {
            id: Uuid::new_v4(),
            organization_id: Uuid::new_v4(),
            buyer_id: Uuid::nil(),
            tender_id: tender,
            lot_id: lot,
            amount: 1_000,
            currency: "EUR".into(),
            technical_summary: String::new(),
            status,
            submitted_at: Some(Utc::now()),
            opened: true,
            created_at: Utc::now(),
        }
    }

    fn refused_field(r: AppResult<Vec<&Bid>>) -> String {
        match r {
            Err(AppError::BadUserInput { field, .. }) => field,
            other => panic!("expected BAD_USER_INPUT, got {:?}", other.map(|b| b.len())),
        }
    }

    #[test]
    fn one_submitted_bid_per_lot_is_chosen_in_the_order_given() {
        let tender = Uuid::new_v4();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let bids = [
            bid(tender, Some(a), BidStatus::Submitted),
            bid(tender, Some(b), BidStatus::Submitted),
        ];
        let chosen = chosen(tender, &[a, b], &[(Some(b), bids[1].id), (Some(a), bids[0].id)], &bids).expect("valid");
        assert_eq!(
            chosen.iter().map(|b| b.id).collect::<Vec<_>>(),
            vec![bids[1].id, bids[0].id]
        );
    }

    #[test]
    fn a_missing_or_doubled_lot_is_refused_as_a_whole() {
        let tender = Uuid::new_v4();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let bids = [
            bid(tender, Some(a), BidStatus::Submitted),
            bid(tender, Some(a), BidStatus::Submitted),
        ];
        assert_eq!(
            refused_field(chosen(tender, &[a, b], &[(Some(a), bids[0].id)], &bids)),
            "awards"
        );
        let twice = [(Some(a), bids[0].id), (Some(a), bids[1].id)];
        assert_eq!(refused_field(chosen(tender, &[a], &twice, &bids)), "awards");
        // An undivided tender takes one bid without a lot.
        assert_eq!(
            refused_field(chosen(tender, &[], &[(Some(a), bids[0].id)], &bids)),
            "awards"
        );
    }

    #[test]
    fn a_draft_another_tenders_or_another_lots_bid_is_named_by_its_position() {
        let tender = Uuid::new_v4();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let draft = bid(tender, Some(a), BidStatus::Draft);
        let elsewhere = bid(Uuid::new_v4(), Some(b), BidStatus::Submitted);
        let ok = bid(tender, Some(a), BidStatus::Submitted);
        let bids = [draft.clone(), elsewhere.clone(), ok.clone()];
        assert_eq!(
            refused_field(chosen(
                tender,
                &[a, b],
                &[(Some(a), ok.id), (Some(b), elsewhere.id)],
                &bids
            )),
            "awards[1].bidId"
        );
        assert_eq!(
            refused_field(chosen(tender, &[a], &[(Some(a), draft.id)], &bids)),
            "awards[0].bidId"
        );
        assert_eq!(
            refused_field(chosen(tender, &[b], &[(Some(b), ok.id)], &bids)),
            "awards[0].bidId"
        );
    }
}
