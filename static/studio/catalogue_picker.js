/* The step editor's catalogue pickers as type-aheads: Django admin's vendored select2,
   set up the way django.contrib.admin's autocomplete.js sets up its fields (options
   from the select's data-* attributes, the "admin-autocomplete" theme, rows added by
   "Add another" too) and listing results as its autocomplete view pages them, more on
   scrolling. The results come from the select's own options, not the network: without
   script the select is the plain one. Each entry shows its CRM id
   (the option's data-ref) beside its name. */
'use strict';
{
    const $ = django.jQuery;
    const PAGE = 50; // Thousands of tags: the list draws a page at a time.
    const byText = $.fn.select2.defaults.defaults.matcher;

    // The select's entries (not its blank choice: clearing is the × button).
    function entries(select) {
        const found = [];
        $.each(select.options, (i, option) => {
            if (option.value === '') {
                return;
            }
            const parent = option.parentElement;
            found.push({
                id: option.value,
                text: option.text,
                ref: option.dataset.ref || '',
                missing: Boolean(option.dataset.missing),
                group: parent.tagName === 'OPTGROUP' ? parent.label : ''
            });
        });
        return found;
    }

    // By name (select2's own comparison: any part, any case, accents ignored), or by
    // the id a marketer copied from the CRM.
    function matches(term, entry) {
        return !term || byText({term: term}, {text: entry.text}) !== null ||
            entry.ref.toLowerCase().includes(term.toLowerCase());
    }

    // One page of the entries that match, under their groups' labels.
    function resultsPage(select, term, number) {
        const found = entries(select).filter((entry) => matches(term, entry));
        const results = [];
        found.slice((number - 1) * PAGE, number * PAGE).forEach((entry) => {
            const last = results[results.length - 1];
            if (!entry.group) {
                results.push(entry);
            } else if (last && last.children && last.text === entry.group) {
                last.children.push(entry);
            } else {
                results.push({text: entry.group, children: [entry]});
            }
        });
        return {results: results, pagination: {more: found.length > number * PAGE}};
    }

    function shown(item) {
        if (!item.id) {
            return item.text; // the placeholder, a group's label, a message
        }
        const about = item.element && item.element.tagName === 'OPTION' ? {
            ref: item.element.dataset.ref, missing: item.element.dataset.missing
        } : item;
        const label = $('<span class="catalogue-choice"></span>').text(item.text);
        if (about.missing) {
            label.addClass('catalogue-missing');
        }
        if (about.ref) {
            label.append(' ', $('<span class="catalogue-ref"></span>').text(about.ref));
        }
        return label;
    }

    // select2's own adapter for a <select>, answering a search a page at a time (its
    // ajax adapter would first copy every option into its own data: slow by thousands).
    const amd = $.fn.select2.amd;
    const Utils = amd.require('select2/utils');
    const SelectAdapter = amd.require('select2/data/select');

    function CatalogueAdapter($element, options) {
        CatalogueAdapter.__super__.constructor.call(this, $element, options);
    }
    Utils.Extend(CatalogueAdapter, SelectAdapter);
    CatalogueAdapter.prototype.query = function(params, callback) {
        callback(resultsPage(this.$element[0], (params.term || '').trim(), params.page || 1));
    };

    // The list select2 builds for its ajax adapter: more on scrolling, no placeholder.
    const ResultsAdapter = Utils.Decorate(
        Utils.Decorate(amd.require('select2/results'), amd.require('select2/dropdown/infiniteScroll')),
        amd.require('select2/dropdown/hidePlaceholder')
    );

    $.fn.cataloguePicker = function() {
        $.each(this, function(i, element) {
            $(element).select2({
                dataAdapter: CatalogueAdapter,
                resultsAdapter: ResultsAdapter,
                templateResult: shown,
                templateSelection: shown
            });
        });
        return this;
    };

    $(function() {
        // Not the hidden template row an inline formset clones for "Add another".
        $('select.catalogue-picker').not('[name*=__prefix__]').cataloguePicker();
    });

    document.addEventListener('formset:added', (event) => {
        $(event.target).find('select.catalogue-picker').cataloguePicker();
    });
}
