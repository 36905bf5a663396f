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
    BadUserInput { field: String, reason: String },
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
            (BadUserInput { field, reason }, En) => format!("Invalid value for {field}: {reason}."),
            (BadUserInput { field, reason }, Fr) => {
                format!("Valeur invalide pour {field} : {reason}.")
            }
            (BadUserInput { field, reason }, De) => {
                format!("Ungültiger Wert für {field}: {reason}.")
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
