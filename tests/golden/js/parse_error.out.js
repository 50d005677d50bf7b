// Not JavaScript this grammar accepts: served unchanged.
location.href = ;
