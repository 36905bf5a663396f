use super::{
    db,
    model::{ComplianceDocument, ComplianceStatus, Supplier},
};

platform::loaders! {
    pub struct SupplierLoader: Supplier = one(|s| s.id) from db::by_ids;

    /// A supplier profile by its organization's id.
    pub struct SupplierOfOrgLoader: Supplier = one(|s| s.organization_id) from db::by_organizations;

    /// Tax ids the caller may read (RLS), by supplier id.
    pub struct TaxIdLoader: String = pairs from db::tax_ids;

    pub struct DocumentsLoader: Vec<ComplianceDocument> = grouped(|d| d.supplier_id) from db::documents;

    pub struct ComplianceLoader: ComplianceStatus = pairs from db::compliance;
}
