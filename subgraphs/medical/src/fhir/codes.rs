//! The code lists of FHIR R4 our model maps to, one table each, in both
//! directions where a search parameter needs the way back.

use crate::{
    appointment::model::AppointmentStatus,
    patient::model::{BloodType, Severity, Sex},
};

pub const SNOMED: &str = "http://snomed.info/sct";
pub const LOINC: &str = "http://loinc.org";
pub const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const ALLERGY_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
/// CPT (AMA), the US procedure terminology.
pub const CPT: &str = "http://www.ama-assn.org/go/cpt";
/// CCAM, the French common classification of medical acts (its OID).
pub const CCAM: &str = "urn:oid:1.2.250.1.213.2.5";
/// Our stable error codes (`extensions.code` in GraphQL), in OperationOutcome details.
pub const HUB_ERROR: &str = "urn:hub:error-code";

/// LOINC 882-1 "ABO and Rh group [Type] in Blood".
pub const BLOOD_GROUP_LOINC: (&str, &str) = ("882-1", "ABO and Rh group [Type] in Blood");

/// `Patient.gender` (administrative-gender, a closed list).
pub fn gender(sex: Sex) -> &'static str {
    match sex {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
        Sex::Unknown => "unknown",
    }
}

/// The `gender` search parameter's way back.
pub fn sex_of(gender: &str) -> Option<Sex> {
    [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown]
        .into_iter()
        .find(|s| self::gender(*s) == gender)
}

/// Blood group as SNOMED CT (IPS value set "Results Blood Group").
pub fn blood_group(b: BloodType) -> (&'static str, &'static str) {
    match b {
        BloodType::APos => ("278149003", "Blood group A Rh(D) positive"),
        BloodType::ANeg => ("278152006", "Blood group A Rh(D) negative"),
        BloodType::BPos => ("278150003", "Blood group B Rh(D) positive"),
        BloodType::BNeg => ("278153001", "Blood group B Rh(D) negative"),
        BloodType::AbPos => ("278151004", "Blood group AB Rh(D) positive"),
        BloodType::AbNeg => ("278154007", "Blood group AB Rh(D) negative"),
        BloodType::OPos => ("278147001", "Blood group O Rh(D) positive"),
        BloodType::ONeg => ("278148006", "Blood group O Rh(D) negative"),
    }
}

/// `Appointment.status`. We never book `proposed`, `pending`, `arrived`,
/// `entered-in-error` or `waitlist` appointments.
pub fn appointment_status(s: AppointmentStatus) -> &'static str {
    match s {
        AppointmentStatus::Scheduled => "booked",
        AppointmentStatus::CheckedIn => "checked-in",
        AppointmentStatus::Completed => "fulfilled",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::NoShow => "noshow",
    }
}

/// Every code of R4's closed `AppointmentStatus` list.
pub const APPOINTMENT_STATUSES: [&str; 10] = [
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
];

/// A code outside an R4 closed list.
#[derive(Debug, PartialEq, Eq)]
pub struct NotInR4;

/// The `status` search parameter's way back: `Err` for a code outside R4's
/// list, `Ok(None)` for one of R4's codes we never use (it matches nothing).
pub fn appointment_status_of(code: &str) -> Result<Option<AppointmentStatus>, NotInR4> {
    use AppointmentStatus::*;
    if !APPOINTMENT_STATUSES.contains(&code) {
        return Err(NotInR4);
    }
    Ok([Scheduled, CheckedIn, Completed, Cancelled, NoShow]
        .into_iter()
        .find(|s| appointment_status(*s) == code))
}

/// An allergy's severity as `AllergyIntolerance.criticality` (the potential
/// for harm) and `reaction.severity` (R4 has no life-threatening severity:
/// that is a severe reaction of high criticality).
pub fn allergy_severity(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Mild => ("low", "mild"),
        Severity::Moderate => ("low", "moderate"),
        Severity::Severe => ("high", "severe"),
        Severity::LifeThreatening => ("high", "severe"),
    }
}

/// SNOMED CT substances for the allergens practices record most often; any
/// other substance travels as `code.text` alone.
pub fn substance(name: &str) -> Option<(&'static str, &'static str)> {
    const KNOWN: &[(&str, &str, &str)] = &[
        ("penicillin", "764146007", "Penicillin"),
        ("amoxicillin", "372687004", "Amoxicillin"),
        ("aspirin", "387458008", "Aspirin"),
        ("ibuprofen", "387207008", "Ibuprofen"),
        ("latex", "111088007", "Latex"),
        ("peanut", "762952008", "Peanut"),
        ("peanuts", "762952008", "Peanut"),
        ("egg", "102263004", "Eggs"),
        ("eggs", "102263004", "Eggs"),
        ("milk", "3718001", "Cow's milk"),
        ("bee venom", "288328004", "Bee venom"),
        ("pollen", "256259004", "Pollen"),
    ];
    let key = name.trim().to_lowercase();
    KNOWN
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|(_, code, display)| (*code, *display))
}

/// A procedure code's system: CCAM codes are four letters and three digits,
/// CPT codes five characters (four digits, then a digit or a letter: the
/// category II and III codes); anything else travels as text.
pub fn procedure_system(code: &str) -> Option<&'static str> {
    let b = code.as_bytes();
    let ccam = b.len() == 7 && b[..4].iter().all(u8::is_ascii_uppercase) && b[4..].iter().all(u8::is_ascii_digit);
    if ccam {
        return Some(CCAM);
    }
    let cpt =
        b.len() == 5 && b[..4].iter().all(u8::is_ascii_digit) && (b[4].is_ascii_digit() || b[4].is_ascii_uppercase());
    cpt.then_some(CPT)
}

/// `Procedure.status`: we record procedures once performed, so every one is
/// `completed`; R4's other codes (preparation, in-progress, not-done,
/// on-hold, stopped, entered-in-error, unknown) never occur.
pub const PROCEDURE_STATUS: &str = "completed";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sex_maps_to_administrative_gender_and_back() {
        let table = [
            (Sex::Female, "female"),
            (Sex::Male, "male"),
            (Sex::Other, "other"),
            (Sex::Unknown, "unknown"),
        ];
        for (sex, code) in table {
            assert_eq!(gender(sex), code);
            assert_eq!(sex_of(code), Some(sex));
        }
        assert_eq!(sex_of("M"), None);
    }

    #[test]
    fn blood_groups_are_the_ips_snomed_codes() {
        let table = [
            ("a_pos", "278149003"),
            ("a_neg", "278152006"),
            ("b_pos", "278150003"),
            ("b_neg", "278153001"),
            ("ab_pos", "278151004"),
            ("ab_neg", "278154007"),
            ("o_pos", "278147001"),
            ("o_neg", "278148006"),
        ];
        for (db, snomed) in table {
            let b = BloodType::ALL
                .iter()
                .find(|(_, s)| *s == db)
                .map(|(b, _)| *b)
                .expect("blood type");
            assert_eq!(blood_group(b).0, snomed, "{db}");
        }
        let codes: std::collections::HashSet<_> = BloodType::ALL.iter().map(|(b, _)| blood_group(*b).0).collect();
        assert_eq!(codes.len(), 8);
    }

    #[test]
    fn appointment_statuses_follow_the_mapping_table() {
        use AppointmentStatus::*;
        let table = [
            (Scheduled, "booked"),
            (CheckedIn, "checked-in"),
            (Completed, "fulfilled"),
            (Cancelled, "cancelled"),
            (NoShow, "noshow"),
        ];
        for (ours, fhir) in table {
            assert_eq!(appointment_status(ours), fhir);
            assert!(APPOINTMENT_STATUSES.contains(&fhir));
            assert_eq!(appointment_status_of(fhir), Ok(Some(ours)));
        }
        assert_eq!(appointment_status_of("waitlist"), Ok(None));
        assert_eq!(appointment_status_of("scheduled"), Err(NotInR4));
    }

    #[test]
    fn severities_become_criticality_and_reaction_severity() {
        assert_eq!(allergy_severity(Severity::Mild), ("low", "mild"));
        assert_eq!(allergy_severity(Severity::Moderate), ("low", "moderate"));
        assert_eq!(allergy_severity(Severity::Severe), ("high", "severe"));
        assert_eq!(allergy_severity(Severity::LifeThreatening), ("high", "severe"));
    }

    #[test]
    fn known_substances_get_snomed_and_others_stay_text() {
        assert_eq!(substance(" Penicillin "), Some(("764146007", "Penicillin")));
        assert_eq!(substance("LATEX").map(|s| s.0), Some("111088007"));
        assert_eq!(substance("Grandmother's soup"), None);
    }

    #[test]
    fn procedure_codes_name_their_system() {
        assert_eq!(procedure_system("DEQP003"), Some(CCAM));
        assert_eq!(procedure_system("93000"), Some(CPT));
        assert_eq!(procedure_system("0001F"), Some(CPT));
        assert_eq!(procedure_system("A1.23"), None);
    }
}
