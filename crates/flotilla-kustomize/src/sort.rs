//! Output order: kustomize's legacy kind order by default, `sortOptions` to choose
//! (`legacy` with custom `orderFirst`/`orderLast`, or `fifo`, the order of accumulation).

use flotilla_core::Value;

use crate::error::Result;
use crate::kinds::legacy_sort_key;
use crate::kustomization::Kustomization;
use crate::resource::ResMap;

/// Sorts `resources` as the top kustomization's `sortOptions` say.
pub fn apply_sort_options(kustomization: &Kustomization, resources: &mut ResMap) -> Result<()> {
    let Some(options) = kustomization.field("sortOptions") else {
        sort_legacy(resources, None, None);
        return Ok(());
    };
    let order = options.get_str(&["order"]).unwrap_or("");
    let legacy = options.get_path(&["legacySortOptions"]);
    match order {
        "fifo" => {
            if legacy.is_some() {
                return Err(kustomization.invalid(
                    "sortOptions: legacySortOptions may only be given with order `legacy`"
                        .to_string(),
                ));
            }
            Ok(())
        }
        "legacy" => {
            let list = |field: &str| -> Option<Vec<String>> {
                legacy
                    .and_then(|legacy| legacy.get_path(&[field]))
                    .and_then(Value::as_sequence)
                    .map(|items| items.iter().filter_map(Value::scalar_text).collect())
            };
            sort_legacy(resources, list("orderFirst"), list("orderLast"));
            Ok(())
        }
        "" => {
            Err(kustomization.invalid("sortOptions needs `order`: `legacy` or `fifo`".to_string()))
        }
        other => Err(kustomization.invalid(format!(
            "unknown sortOptions order `{other}`: use `legacy` or `fifo`"
        ))),
    }
}

fn sort_legacy(resources: &mut ResMap, first: Option<Vec<String>>, last: Option<Vec<String>>) {
    resources.resources.sort_by_cached_key(|resource| {
        legacy_sort_key(&resource.current_id(), first.as_deref(), last.as_deref())
    });
}
