use super::{
    db,
    model::{Invoice, InvoiceLine},
};

platform::loaders! {
    pub struct InvoiceLinesLoader: Vec<InvoiceLine> = grouped(|l| l.invoice_id) from db::lines_of;

    pub struct InvoicesByPatientLoader: Vec<Invoice> = grouped(|i| i.patient_id) from db::of_patients;

    pub struct InvoiceLoader: Invoice = one(|i| i.id) from db::by_ids;
}
