//! A line-based unified diff (longest common subsequence; inputs are single objects, so the
//! quadratic table is small; above a size cap the whole old text is replaced by the new).

const MAX_CELLS: usize = 4_000_000;
const CONTEXT: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Line {
    Same,
    Removed,
    Added,
}

pub(crate) fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let script = edit_script(&old_lines, &new_lines);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    // Print changed lines with CONTEXT lines around them.
    let changed: Vec<usize> = script
        .iter()
        .enumerate()
        .filter(|(_, (kind, _))| *kind != Line::Same)
        .map(|(index, _)| index)
        .collect();
    let mut shown = vec![false; script.len()];
    for index in changed {
        let start = index.saturating_sub(CONTEXT);
        let end = (index + CONTEXT + 1).min(script.len());
        for flag in &mut shown[start..end] {
            *flag = true;
        }
    }
    let mut previous_shown = true;
    for (index, (kind, text)) in script.iter().enumerate() {
        if !shown[index] {
            previous_shown = false;
            continue;
        }
        if !previous_shown {
            out.push_str("@@\n");
        }
        previous_shown = true;
        let marker = match kind {
            Line::Same => ' ',
            Line::Removed => '-',
            Line::Added => '+',
        };
        out.push(marker);
        out.push_str(text);
        out.push('\n');
    }
    out
}

fn edit_script<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<(Line, &'a str)> {
    if old.len().saturating_mul(new.len()) > MAX_CELLS {
        let mut script: Vec<(Line, &str)> = old.iter().map(|line| (Line::Removed, *line)).collect();
        script.extend(new.iter().map(|line| (Line::Added, *line)));
        return script;
    }
    let (rows, columns) = (old.len(), new.len());
    let mut table = vec![0u32; (rows + 1) * (columns + 1)];
    for row in (0..rows).rev() {
        for column in (0..columns).rev() {
            table[row * (columns + 1) + column] = if old[row] == new[column] {
                table[(row + 1) * (columns + 1) + column + 1] + 1
            } else {
                table[(row + 1) * (columns + 1) + column]
                    .max(table[row * (columns + 1) + column + 1])
            };
        }
    }
    let (mut row, mut column) = (0, 0);
    let mut script = Vec::new();
    while row < rows && column < columns {
        if old[row] == new[column] {
            script.push((Line::Same, old[row]));
            row += 1;
            column += 1;
        } else if table[(row + 1) * (columns + 1) + column]
            >= table[row * (columns + 1) + column + 1]
        {
            script.push((Line::Removed, old[row]));
            row += 1;
        } else {
            script.push((Line::Added, new[column]));
            column += 1;
        }
    }
    script.extend(old[row..].iter().map(|line| (Line::Removed, *line)));
    script.extend(new[column..].iter().map(|line| (Line::Added, *line)));
    script
}
