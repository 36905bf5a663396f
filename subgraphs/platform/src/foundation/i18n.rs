//! Client-facing messages in English, French and German, chosen by
//! `Accept-Language`. Errors map to a [`Message`], rendered in the request's
//! [`Locale`] just before the response leaves.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Fr,
    De,
}

impl Locale {
    /// Best supported match of an `Accept-Language` header; English otherwise.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Locale::En;
        };
        match accept_language::intersection(header, &["en", "fr", "de"])
            .first()
            .map(String::as_str)
        {
            Some("fr") => Locale::Fr,
            Some("de") => Locale::De,
            _ => Locale::En,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
            Locale::De => "de",
        }
    }
}

/// Every message a client can read, with its arguments.
#[derive(Debug, Clone)]
pub enum Message {
    Unauthenticated,
    InvalidCredentials,
    InvalidToken,
    MfaRequired,
    Forbidden,
    NotFound(&'static str),
    /// A record that existed and was deleted (kept for history).
    Gone(&'static str),
    /// A resource type or operation a non-GraphQL API does not serve.
    NotSupported(String),
    BadUserInput {
        field: String,
        reason: String,
    },
    Conflict(String),
    RateLimited(u64),
    Unavailable(&'static str),
    Internal,
}

impl Message {
    pub fn render(&self, locale: Locale) -> String {
        use Locale::*;
        use Message::*;
        match (self, locale) {
            (Unauthenticated, En) => "Authentication required.".into(),
            (Unauthenticated, Fr) => "Authentification requise.".into(),
            (Unauthenticated, De) => "Anmeldung erforderlich.".into(),
            (InvalidCredentials, En) => "Invalid credentials, or the account is temporarily locked.".into(),
            (InvalidCredentials, Fr) => "Identifiants invalides, ou compte temporairement verrouillé.".into(),
            (InvalidCredentials, De) => "Ungültige Anmeldedaten oder Konto vorübergehend gesperrt.".into(),
            (InvalidToken, En) => "The token is invalid, used or expired.".into(),
            (InvalidToken, Fr) => "Le jeton est invalide, déjà utilisé ou expiré.".into(),
            (InvalidToken, De) => "Das Token ist ungültig, bereits benutzt oder abgelaufen.".into(),
            (MfaRequired, En) => "A valid one-time code is required.".into(),
            (MfaRequired, Fr) => "Un code à usage unique valide est requis.".into(),
            (MfaRequired, De) => "Ein gültiger Einmalcode ist erforderlich.".into(),
            (Forbidden, En) => "You are not allowed to do this.".into(),
            (Forbidden, Fr) => "Vous n'êtes pas autorisé à effectuer cette action.".into(),
            (Forbidden, De) => "Sie sind dazu nicht berechtigt.".into(),
            (NotFound(what), En) => format!("{what} not found."),
            (NotFound(what), Fr) => format!("{what} introuvable."),
            (NotFound(what), De) => format!("{what} nicht gefunden."),
            (Gone(what), En) => format!("{what} was deleted."),
            (Gone(what), Fr) => format!("{what} a été supprimé."),
            (Gone(what), De) => format!("{what} wurde gelöscht."),
            (NotSupported(what), En) => format!("Not supported by this server: {what}."),
            (NotSupported(what), Fr) => format!("Non pris en charge par ce serveur : {what}."),
            (NotSupported(what), De) => format!("Von diesem Server nicht unterstützt: {what}."),
            (BadUserInput { field, reason }, En) => format!("Invalid value for {field}: {reason}."),
            (BadUserInput { field, reason }, Fr) => {
                format!("Valeur invalide pour {field} : {}.", reason_in(reason, Fr))
            }
            (BadUserInput { field, reason }, De) => {
                format!("Ungültiger Wert für {field}: {}.", reason_in(reason, De))
            }
            (Conflict(what), En) => format!("Conflict: {what}."),
            (Conflict(what), Fr) => format!("Conflit : {what}."),
            (Conflict(what), De) => format!("Konflikt: {what}."),
            (RateLimited(s), En) => format!("Too many requests; retry in {s} s."),
            (RateLimited(s), Fr) => format!("Trop de requêtes ; réessayez dans {s} s."),
            (RateLimited(s), De) => format!("Zu viele Anfragen; erneut versuchen in {s} s."),
            (Unavailable(what), En) => {
                format!("Temporarily unavailable ({what}); nothing was changed.")
            }
            (Unavailable(what), Fr) => {
                format!("Temporairement indisponible ({what}) ; rien n'a été modifié.")
            }
            (Unavailable(what), De) => {
                format!("Vorübergehend nicht verfügbar ({what}); nichts wurde geändert.")
            }
            (Internal, En) => "Internal error.".into(),
            (Internal, Fr) => "Erreur interne.".into(),
            (Internal, De) => "Interner Fehler.".into(),
        }
    }
}

/// Why an input was refused, in French and German. Validators state reasons
/// in English (they are logged and tested that way); this table renders the
/// ones the API uses. Numbers inside a reason are kept; a reason missing from
/// the table stays English rather than disappear.
fn reason_in(reason: &str, locale: Locale) -> String {
    // The first number in the reason, put back where `{n}` / `{m}` stand.
    let numbers: Vec<&str> = reason
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    let shape: String = {
        let mut out = String::new();
        let mut in_number = false;
        let mut k = 0;
        for c in reason.chars() {
            if c.is_ascii_digit() {
                if !in_number {
                    out.push_str(if k == 0 { "{n}" } else { "{m}" });
                    k += 1;
                }
                in_number = true;
            } else {
                in_number = false;
                out.push(c);
            }
        }
        out
    };
    let (fr, de) = match shape.as_str() {
        "must not be empty" | "is empty" => ("ne doit pas être vide", "darf nicht leer sein"),
        "must not be negative" => ("ne doit pas être négatif", "darf nicht negativ sein"),
        "must be at most {n}" => ("doit valoir au plus {n}", "darf höchstens {n} sein"),
        "must be at most {n} characters" => (
            "doit compter au plus {n} caractères",
            "darf höchstens {n} Zeichen lang sein",
        ),
        "must be at least {n} characters" => (
            "doit compter au moins {n} caractères",
            "muss mindestens {n} Zeichen lang sein",
        ),
        "must be {n} to {m} characters" => (
            "doit compter de {n} à {m} caractères",
            "muss {n} bis {m} Zeichen lang sein",
        ),
        "must be {n} to {m}" => ("doit valoir de {n} à {m}", "muss zwischen {n} und {m} liegen"),
        "must not contain NUL characters" => (
            "ne doit pas contenir de caractère NUL",
            "darf keine NUL-Zeichen enthalten",
        ),
        "is not a valid id" => ("n'est pas un identifiant valide", "ist keine gültige ID"),
        "is not an allowed value" => ("n'est pas une valeur autorisée", "ist kein zulässiger Wert"),
        "is too long" => ("est trop long", "ist zu lang"),
        "is out of range" => ("est hors limites", "liegt außerhalb des zulässigen Bereichs"),
        "is not a cursor from this list" => ("n'est pas un curseur de cette liste", "ist kein Cursor dieser Liste"),
        "is not an email address" | "is not a valid email address" => (
            "n'est pas une adresse e-mail valide",
            "ist keine gültige E-Mail-Adresse",
        ),
        "is not your current password" => (
            "n'est pas votre mot de passe actuel",
            "ist nicht Ihr aktuelles Passwort",
        ),
        "is not the current code" => ("n'est pas le code actuel", "ist nicht der aktuelle Code"),
        "is required to erase your own account" => (
            "est requis pour effacer votre propre compte",
            "ist erforderlich, um Ihr eigenes Konto zu löschen",
        ),
        "is required: your account has a second factor" => (
            "est requis : votre compte a un second facteur",
            "ist erforderlich: Ihr Konto hat einen zweiten Faktor",
        ),
        "is not a valid code" => ("n'est pas un code valide", "ist kein gültiger Code"),
        "is not this patient's medical record number: check that the id names the patient to erase" => (
            "n'est pas le numéro de dossier de ce patient : vérifiez que l'identifiant désigne le patient à effacer",
            "ist nicht die Aktennummer dieses Patienten: prüfen Sie, ob die ID den zu löschenden Patienten bezeichnet",
        ),
        "the export would exceed {n} MB: ask an administrator to raise the limit or export fewer documents" => (
            "l'export dépasserait {n} Mo : demandez à un administrateur de relever la limite ou exportez moins de documents",
            "der Export würde {n} MB überschreiten: bitten Sie einen Administrator, die Grenze anzuheben, oder exportieren Sie weniger Dokumente",
        ),
        "must be after startsAt" => ("doit être postérieur à startsAt", "muss nach startsAt liegen"),
        "must be after from" => ("doit être postérieur à from", "muss nach from liegen"),
        "from and to are required" => ("from et to sont obligatoires", "from und to sind erforderlich"),
        "the range may span at most {n} days" => (
            "la période couvre au plus {n} jours",
            "der Zeitraum umfasst höchstens {n} Tage",
        ),
        "an appointment lasts at most {n} hours" => (
            "un rendez-vous dure au plus {n} heures",
            "ein Termin dauert höchstens {n} Stunden",
        ),
        "cannot be in the future" => ("ne peut pas être dans le futur", "darf nicht in der Zukunft liegen"),
        "must be a past date after {n}" => (
            "doit être une date passée postérieure à {n}",
            "muss ein vergangenes Datum nach {n} sein",
        ),
        "no such patient" => ("patient inconnu", "unbekannter Patient"),
        "no such appointment for this patient" => ("aucun rendez-vous de ce patient", "kein Termin dieses Patienten"),
        "give at least one role" => ("indiquez au moins un rôle", "geben Sie mindestens eine Rolle an"),
        "give at least one scope" => ("indiquez au moins une portée", "geben Sie mindestens einen Scope an"),
        "give {n} to {m} lines" => ("indiquez de {n} à {m} lignes", "geben Sie {n} bis {m} Positionen an"),
        "the invoice total is too large" => (
            "le total de la facture est trop élevé",
            "die Rechnungssumme ist zu hoch",
        ),
        "is not an ISO {n} currency" => ("n'est pas une devise ISO {n}", "ist keine ISO-{n}-Währung"),
        "give {n} to {m} codes" => ("indiquez de {n} à {m} codes", "geben Sie {n} bis {m} Codes an"),
        "is not a CPV code ({n} digits, optionally a dash and a check digit)" => (
            "n'est pas un code CPV ({n} chiffres, éventuellement un tiret et un chiffre de contrôle)",
            "ist kein CPV-Code ({n} Ziffern, optional ein Bindestrich und eine Prüfziffer)",
        ),
        "must not be after submissionDeadline" => (
            "ne doit pas être postérieur à submissionDeadline",
            "darf nicht nach submissionDeadline liegen",
        ),
        "give at most {n} lots" => ("indiquez au plus {n} lots", "geben Sie höchstens {n} Lose an"),
        "must be in the future" => ("doit être dans le futur", "muss in der Zukunft liegen"),
        "may only be extended" => ("ne peut qu'être prolongé", "darf nur verlängert werden"),
        "changes nothing" => ("ne change rien", "ändert nichts"),
        "no such tender" => ("appel d'offres inconnu", "unbekannte Ausschreibung"),
        "must be more than {n}" => ("doit être supérieur à {n}", "muss größer als {n} sein"),
        "must be in the tender's currency" => (
            "doit être dans la devise de l'appel d'offres",
            "muss in der Währung der Ausschreibung sein",
        ),
        "the tender is divided into lots: name one" => (
            "l'appel d'offres est divisé en lots : indiquez-en un",
            "die Ausschreibung ist in Lose geteilt: nennen Sie eines",
        ),
        "is not a lot of this tender" => (
            "n'est pas un lot de cet appel d'offres",
            "ist kein Los dieser Ausschreibung",
        ),
        "must not be before contractStart" => (
            "ne doit pas être antérieur à contractStart",
            "darf nicht vor contractStart liegen",
        ),
        "give exactly one bid per lot (one for an undivided tender)" => (
            "indiquez exactement une offre par lot (une pour un appel d'offres non divisé)",
            "geben Sie genau ein Angebot pro Los an (eines für eine ungeteilte Ausschreibung)",
        ),
        "is not a submitted bid on this tender and lot" => (
            "n'est pas une offre déposée pour cet appel d'offres et ce lot",
            "ist kein eingereichtes Angebot für diese Ausschreibung und dieses Los",
        ),
        "use letters, digits and spaces" => (
            "lettres, chiffres et espaces uniquement",
            "nur Buchstaben, Ziffern und Leerzeichen",
        ),
        "use digits, spaces and + - ( ) ." => (
            "chiffres, espaces et + - ( ) . uniquement",
            "nur Ziffern, Leerzeichen und + - ( ) .",
        ),
        "use {n} to {m} letters, digits or dashes" => (
            "de {n} à {m} lettres, chiffres ou tirets",
            "{n} bis {m} Buchstaben, Ziffern oder Bindestriche",
        ),
        "use {n} to {m} lowercase letters, digits or dashes" => (
            "de {n} à {m} minuscules, chiffres ou tirets",
            "{n} bis {m} Kleinbuchstaben, Ziffern oder Bindestriche",
        ),
        _ => return reason.to_string(),
    };
    let text = if locale == Locale::De { de } else { fr };
    let text = text.replace("{n}", numbers.first().copied().unwrap_or_default());
    text.replace("{m}", numbers.get(1).copied().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_locale() {
        assert_eq!(
            Locale::from_accept_language(Some("fr-FR,fr;q=0.9,en;q=0.5")),
            Locale::Fr
        );
        assert_eq!(Locale::from_accept_language(Some("de")), Locale::De);
        assert_eq!(Locale::from_accept_language(Some("es, de;q=0.4")), Locale::De);
        assert_eq!(Locale::from_accept_language(Some("es")), Locale::En);
        assert_eq!(Locale::from_accept_language(None), Locale::En);
    }

    #[test]
    fn input_reasons_are_translated_with_their_numbers() {
        let m = |reason: &str, l| {
            Message::BadUserInput {
                field: "name".into(),
                reason: reason.into(),
            }
            .render(l)
        };
        assert_eq!(
            m("must be 1 to 200 characters", Locale::Fr),
            "Valeur invalide pour name : doit compter de 1 à 200 caractères."
        );
        assert_eq!(
            m("must be at most 100", Locale::De),
            "Ungültiger Wert für name: darf höchstens 100 sein."
        );
        assert_eq!(
            m("must be at most 100", Locale::En),
            "Invalid value for name: must be at most 100."
        );
        assert_eq!(
            m("something new", Locale::Fr),
            "Valeur invalide pour name : something new."
        );
    }

    #[test]
    fn messages_exist_in_every_locale() {
        for locale in [Locale::En, Locale::Fr, Locale::De] {
            let m = Message::NotFound("user").render(locale);
            assert!(m.contains("user"), "{m}");
        }
        assert_ne!(
            Message::Forbidden.render(Locale::Fr),
            Message::Forbidden.render(Locale::En)
        );
    }
}
