# Source of answers_math_fresh.jsonl: a third labelled set, written after the checker was finished and
# measured once, with no change to the checker after it (run: python3 THIS.py OUT.jsonl).
# Every section is one table of (rationale, gold, expected, reason) rows (labelled_cases.py).
import sys

from labelled_cases import table, write

cases = []


def box(a):
    return f"Combining the cases above, we conclude that the answer is $\\boxed{{{a}}}$."


table(cases, "math", [
    ("\\frac{5\\sqrt{2}}{2}", "\\frac{5}{\\sqrt{2}}", "correct", "rationalised 5/sqrt2"),
    ("\\frac{5\\sqrt{2}}{2}", "5\\sqrt{2}", "wrong", "missing halving"),
    ("\\frac{3}{8}", "0.375", "correct", "eighths"),
    ("\\frac{3}{8}", "0.38", "wrong", "rounded"),
    ("\\$ 2.40", "2.4", "correct", "money with space"),
    ("2.4\\text{ dollars}", "\\$2.40", "correct", "dollars in text"),
    ("x^2 - 5x + 6", "(x-2)(x-3)", "correct", "factored quadratic"),
    ("x^2 - 5x + 6", "(x+2)(x+3)", "wrong", "signs of the factors"),
    ("\\frac{2x+1}{x-1}", "\\frac{2x+1}{x-1}", "correct", "identical rational function"),
    ("\\frac{4x+2}{2x-2}", "\\frac{2x+1}{x-1}", "correct", "rational function scaled"),
    ("\\frac{2x-1}{x-1}", "\\frac{2x+1}{x-1}", "wrong", "numerator sign"),
    ("(-1, 4)", "(-1,4)", "correct", "point"),
    ("(4, -1)", "(-1,4)", "wrong", "point swapped"),
    ("-1, 4", "4, -1", "correct", "roots any order"),
    ("x = -1 \\text{ and } x = 4", "-1, 4", "correct", "roots as assignments"),
    ("[-1, 4]", "-1 \\le x \\le 4", "correct", "interval vs inequality"),
    ("(-1, 4]", "-1 \\le x \\le 4", "wrong", "interval end"),
    ("(-\\infty, 0) \\cup (0, \\infty)", "x \\neq 0", "correct", "nonzero reals"),
    ("\\{2, 4, 6\\}", "\\{6, 4, 2\\}", "correct", "set"),
    ("\\{2, 4, 6\\}", "\\{2, 4\\}", "wrong", "set missing element"),
    ("\\sqrt{2}", "2^{1/2}", "correct", "root as power"),
    ("\\sqrt[3]{27}", "3", "correct", "cube root"),
    ("4\\sqrt{2}", "\\sqrt{32}", "correct", "surd 32"),
    ("4\\sqrt{2}", "\\sqrt{34}", "wrong", "surd 34"),
    ("\\frac{\\pi}{12}", "15^\\circ", "wrong", "radians vs degrees"),
    ("15^\\circ", "15", "correct", "degrees"),
    ("\\frac{7\\pi}{6}", "\\frac{7}{6}\\pi", "correct", "pi placement"),
    ("2\\pi - 4", "-4+2\\pi", "correct", "pi sum order"),
    ("2\\pi - 4", "4-2\\pi", "wrong", "negated"),
    ("1-i", "-i+1", "correct", "complex"),
    ("\\frac{1}{1+i}", "\\frac{1-i}{2}", "correct", "complex reciprocal"),
    ("\\frac{1}{1+i}", "\\frac{1+i}{2}", "wrong", "complex reciprocal conjugate"),
    ("\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", "\\begin{pmatrix}3\\\\-1\\end{pmatrix}", "correct", "vector"),
    ("\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", "\\begin{pmatrix}-1\\\\3\\end{pmatrix}", "wrong", "vector swapped"),
    ("\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}", "\\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix}", "correct",
     "identity"),
    ("\\text{(E)}", "\\textbf{(E)}", "correct", "choice E"),
    ("E", "\\textbf{(D)}", "wrong", "choice differs"),
    ("1{,}024", "1024", "correct", "braced separator"),
    ("2^{10}", "1{,}024", "correct", "power vs separated"),
    ("3.5\\times 10^{2}", "350", "correct", "scientific"),
    ("3.5\\times 10^{-2}", "350", "wrong", "scientific sign"),
    ("25\\%", "\\frac{1}{4}", "correct", "percent vs fraction"),
    ("75", "75\\%", "correct", "percent vs number"),
    ("\\frac{1}{3}", "33\\%", "wrong", "rounded percent"),
    ("y = 3x - 2", "y=3x-2", "correct", "line"),
    ("y = 3x - 2", "3x - y = 2", "correct", "line rearranged"),
    ("y = 3x - 2", "3x + y = 2", "wrong", "line sign"),
    ("x^2+y^2=9", "x^2+y^2-9=0", "correct", "circle moved"),
    ("n = 7", "7", "correct", "named value"),
    ("\\text{Sunday}", "\\text{Sunday}", "correct", "weekday"),
    ("\\text{Sunday}", "\\text{Saturday}", "wrong", "weekday differs"),
    ("0.\\overline{12}", "\\frac{4}{33}", "correct", "repeating decimal"),
    ("\\frac{4}{33}", "0.12", "wrong", "truncated repeating"),
    ("\\dbinom{8}{3}", "56", "correct", "binomial"),
    ("4!", "24", "correct", "factorial"),
    ("\\frac{11}{2}", "5\\frac{1}{2}", "correct", "mixed number"),
    ("\\frac{11}{2}", "5\\frac{1}{3}", "wrong", "mixed number differs"),
], wrap=box)

E = "extraction"
table(cases, E, [
    ("Thus the remainder is $3$.", "3", "correct", "inline final"),
    ("We have $2^{10} = 1024$, so the remainder upon division by 5 is 4.", "4", "correct", "number after math"),
    ("Thus, $\\angle C = 70^\\circ$.", "70", "correct", "angle assignment"),
    ("Solving, we find $k = \\frac{9}{4}$.", "\\frac94", "correct", "named value inline"),
    ("The sum of all such $n$ is $\\boxed{42}$. Note that $n = 6$ also works, giving 48 in total.", "42", "correct",
     "text after the box without an answer sentence"),
    ("My first guess is $\\boxed{5}$.\n\nActually, I made an arithmetic slip: the final answer is $\\boxed{7}$.",
     "7", "correct", "corrected box"),
    ("**Final Answer**\n\n$\\boxed{\\left( \\frac{1}{2}, -3 \\right)}$", "(0.5,-3)", "correct", "boxed left/right tuple"),
    ("Answer: $\\boxed{(0, 1]}$", "(0,1]", "correct", "boxed half-open interval"),
    ("Therefore the probability equals \\(\\frac{2}{9}\\).", "\\frac29", "correct", "\\( \\) final"),
    ("Therefore the probability equals \\(\\frac{2}{9}\\).", "9", "wrong", "digit inside \\( \\)"),
    ("Thus, the answer is $\\boxed{4}$ or $\\boxed{-4}$.", "\\pm 4", "correct", "two boxes joined by or"),
    ("There are $\\binom{6}{3} = 20$ ways.", "20", "correct", "binomial chain"),
])

G = "gsm8k"
table(cases, G, [
    ("Tom reads 20 pages a day for 7 days, so 20 * 7 = 140 pages.\n#### 140", "140", "correct", "gsm8k"),
    ("Tom reads 20 pages a day for 7 days, so 20 * 7 = 140 pages.\n#### 140", "150", "wrong", "gsm8k wrong"),
    ("She pays $15 for the shirt and $25 for shoes, so $40 in total.", "40", "correct", "dollars"),
    ("She pays $15 for the shirt and $25 for shoes, so $40 in total.", "25", "wrong", "dollars middle"),
    ("The answer is 3,600 seconds.", "3600", "correct", "thousands with unit"),
    ("He walks 2.5 miles each day, 5 days a week: 12.5 miles. The answer is 12.5", "12.5", "correct", "decimal"),
    ("So the answer is 8 and a half.", "8.5", "correct", "a spoken half"),
    ("Each friend gets 36 / 4 = 9 candies.", "9", "correct", "last number"),
])

write(sys.argv[1], cases, prefix="fresh-")
print(len(cases))
