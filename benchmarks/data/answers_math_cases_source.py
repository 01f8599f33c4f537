# Source of answers_math_cases.jsonl (run: python3 benchmarks/data/answers_math_cases_source.py OUT.jsonl).
# Builds benchmarks/data/answers_math_cases.jsonl: hand-labelled MATH/NuminaMath-style cases.
import json
import sys
from collections import Counter
cases = []
def C(cat, rationale, gold, expected, reason):
    cases.append(dict(category=cat, rationale=rationale, gold=gold, expected=expected, reason=reason))
def boxed(ans, pre="We compute carefully and simplify. "):
    return f"{pre}Therefore the answer is $\\boxed{{{ans}}}$."

# ---------------- extraction ----------------
E = "extraction"
C(E, "Adding the three parts gives $\\frac{1}{3}$", "\\frac{1}{3}", "correct", "last inline math is the answer, not the digit 3 inside it")
C(E, "Adding the three parts gives $\\frac{1}{3}$", "3", "wrong", "last-number fallback must not take the 3 out of \\frac{1}{3}")
C(E, "So the ratio is $\\frac{1+\\sqrt5}{2}$", "2", "wrong", "digit inside a LaTeX expression is not the answer")
C(E, "So the ratio is $\\frac{1+\\sqrt5}{2}$", "\\frac{1+\\sqrt{5}}{2}", "correct", "inline math candidate, shorthand sqrt")
C(E, "The value is \\(\\frac{7}{2}\\)", "\\frac72", "correct", "\\( \\) delimiters")
C(E, "The value is \\(\\frac{7}{2}\\)", "7", "wrong", "\\( \\) content is one expression")
C(E, "Thus we get\n\\[x = \\frac{5}{4}\\]", "\\frac54", "correct", "display \\[ \\] with assignment")
C(E, "Thus we get\n$$\\sqrt{13}$$", "\\sqrt{13}", "correct", "$$ display math")
C(E, "Thus we get\n$$\\sqrt{13}$$", "13", "wrong", "$$ display math is an expression, not 13")
C(E, "Final Answer: The final answer is $17$. I hope it is correct.", "17", "correct", "Minerva style final answer sentence")
C(E, "Final Answer: The final answer is $17$. I hope it is correct.", "18", "wrong", "Minerva style, wrong number")
C(E, "Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "0.75", "correct", "Minerva style fraction vs decimal")
C(E, "Final Answer: The final answer is $(2,-1)$. I hope it is correct.", "(2,-1)", "correct", "Minerva style tuple")
C(E, "Final Answer: The final answer is $2\\sqrt{3}$. I hope it is correct.", "2\\sqrt3", "correct", "Minerva style surd")
C(E, "First I guessed $\\boxed{12}$ but that double counts. Rechecking, the final answer is 10.", "10", "correct", "later 'final answer is' beats an earlier box")
C(E, "First I guessed $\\boxed{12}$ but that double counts. Rechecking, the final answer is 10.", "12", "wrong", "the earlier box is superseded")
C(E, "We get $\\boxed{5}$. Checking again: $\\boxed{5}$.", "5", "correct", "repeated identical boxes are one answer")
C(E, "So $a=\\boxed{5}$ and again $a = \\boxed{5}$", "5", "correct", "identical boxes on one line are not a list")
C(E, "The roots are $\\boxed{2}$ and $\\boxed{3}$.", "2, 3", "correct", "boxes joined by 'and'")
C(E, "The roots are $\\boxed{2}$ and $\\boxed{3}$.", "2", "wrong", "two boxed roots are not one root")
C(E, "The solutions are $\\boxed{-1}$, $\\boxed{4}$.", "-1,4", "correct", "boxes joined by a comma")
C(E, "Case 1 gives $\\boxed{3}$. Case 2 is impossible so we get $\\boxed{7}$", "7", "correct", "boxes separated by a sentence: take the last")
C(E, "The answer is $\\boxed{\\dfrac{9}{4}}$", "\\frac{9}{4}", "correct", "boxed dfrac")
C(E, "The answer is \\boxed{\\{1,2\\}}", "\\{1,2\\}", "correct", "boxed set with escaped braces")
C(E, "Hence $m+n = 3 + 4 = 7$.", "7", "correct", "last inline math chain takes the last side")
C(E, "Hence $m+n = 3 + 4 = 7$.", "3", "wrong", "chain's first term is not the answer")
C(E, "The sum is $2+3$, which is $5$.", "5", "correct", "last inline math")
C(E, "<think>maybe 4? no, 6</think> The answer is $\\boxed{6}$", "6", "correct", "after think")
C(E, "**Answer:** $\\frac{2}{5}$", "\\frac{2}{5}", "correct", "markdown Answer: label")
C(E, "**Final Answer**\n\\[\n\\boxed{42}\n\\]", "42", "correct", "boxed in display block")
C(E, "**Final Answer**\n\\[\n\\boxed{42}\n\\]", "24", "wrong", "boxed wrong number")
C(E, "The answer is: 3\\sqrt{2}", "\\sqrt{18}", "correct", "answer is: colon")
C(E, "So there are 15 ways.", "15", "correct", "plain last number")
C(E, "So there are 15 ways.", "16", "wrong", "plain last number wrong")
C(E, "The probability is $\\tfrac{3}{8}$.", "\\frac38", "correct", "tfrac inline")
C(E, "Answer: $x = -\\tfrac{1}{2}$", "-\\frac{1}{2}", "correct", "Answer: label, assignment")
C(E, "Solving, $n=12$. So the smallest such $n$ is $12$.", "12", "correct", "last inline math plain number")
C(E, "We need $k$ such that $k^2 < 50$, so $k \\le 7$ and the largest is $7$.", "7", "correct", "last inline math among several")
C(E, "The area is $6\\pi$ square units.", "6\\pi", "correct", "inline with trailing words")
C(E, "The area is $6\\pi$ square units.", "6", "wrong", "6 is not 6 pi")
C(E, "This gives $\\frac{1}{3}$ of the total, i.e. the answer is $\\frac{1}{3}$.", "\\frac13", "correct", "answer is followed by inline math")
C(E, "The final answer is $\\boxed{B}$", "B", "correct", "boxed choice letter")
C(E, "The final answer is $\\boxed{\\text{(B)}}$", "B", "correct", "boxed choice letter with parentheses")
C(E, "I think the final answer is 8. Actually, wait: the answer is 9.", "9", "correct", "the last answer sentence wins")
C(E, "We find $\\boxed{x=3}$.", "3", "correct", "boxed assignment")
C(E, "Thus $f(2) = \\boxed{11}$.", "11", "correct", "box after assignment")
C(E, "There are \\boxed{120} arrangements", "120", "correct", "bare boxed")
C(E, "There are \\boxed{120} arrangements", "\\boxed{120}", "correct", "gold given as a box")
C(E, "The answer is 1/4.", "Solution: ... so the probability is $\\boxed{\\frac14}$.", "correct", "gold is a full solution")
C(E, "The answer is 1/5.", "Solution: ... so the probability is $\\boxed{\\frac14}$.", "wrong", "gold is a full solution, wrong prediction")
C(E, "Computing, the distance is $\\sqrt{(3-0)^2+(4-0)^2}=5$.", "5", "correct", "inline chain last side")
C(E, "I could not solve this problem.", "5", "wrong", "no answer")
C(E, "$\\boxed{}$", "5", "wrong", "empty box")
C(E, "The answer is $\\boxed{3}$. \\boxed{3}", "3", "correct", "identical repeated boxes")
C(E, "Therefore, the final answer is: $\\boxed{2}$. I hope it is correct.", "2", "correct", "final answer: with box")
C(E, "the final answer is \\(\\dfrac{5}{12}\\)", "\\frac{5}{12}", "correct", "final answer with \\( \\)")
C(E, "the final answer is \\(\\dfrac{5}{12}\\)", "\\frac{5}{11}", "wrong", "changed denominator")
C(E, "Let $x$ be the number. Then $3x+2=11$, so $x=3$.", "3", "correct", "last inline assignment")
C(E, "The perimeter is $4 \\cdot 5 = 20$ cm.", "20", "correct", "chain with units after math")
C(E, "So $\\angle ABC = 40^\\circ$.", "40", "correct", "degrees inline")
C(E, "This equals $\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt3}{2}", "correct", "boxed frac of sqrt")
C(E, "This equals $\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt2}{2}", "wrong", "different radicand")
C(E, "The remainder is $\\boxed{4}$.\n\nHowever, after rechecking, the remainder is $\\boxed{6}$.", "6", "correct", "last box on a later line")
C(E, "Thus the answer is \\[\\boxed{(1,2)}\\]", "(1,2)", "correct", "boxed tuple in display")
C(E, "We conclude $\\boxed{3}$ or $\\boxed{-3}$", "\\pm 3", "correct", "boxes joined by or vs pm")

# ---------------- relations ----------------
R = "relations"
for p, g, exp, why in [
    ("x \\ge 2", "x\\geq 2", "correct", "\\ge vs \\geq"),
    ("x >= 2", "x \\geq 2", "correct", ">= vs \\geq"),
    ("x \\le 5", "x \\leq 5", "correct", "\\le vs \\leq"),
    ("x <= 5", "x\\le5", "correct", "<= vs \\le"),
    ("x \\neq 3", "x \\ne 3", "correct", "\\neq vs \\ne"),
    ("x != 3", "x \\neq 3", "correct", "!= vs \\neq"),
    ("x \\lt 4", "x<4", "correct", "\\lt vs <"),
    ("x \\gt 4", "x>4", "correct", "\\gt vs >"),
    ("x \\ge 2", "x > 2", "wrong", "closed vs open inequality"),
    ("x \\le 5", "x \\ge 5", "wrong", "reversed inequality"),
    ("x \\ge 2", "[2, \\infty)", "correct", "inequality vs interval closed end"),
    ("x > 2", "(2, \\infty)", "correct", "strict inequality vs open interval"),
    ("x > 2", "[2, \\infty)", "wrong", "open vs closed end"),
    ("x<3", "(-\\infty, 3)", "correct", "x<3 vs interval"),
    ("x \\le 3", "(-\\infty, 3)", "wrong", "closed vs open end at 3"),
    ("x \\leq -1", "(-\\infty,-1]", "correct", "le vs interval closed"),
    ("2 \\le x \\le 5", "[2,5]", "correct", "double inequality vs closed interval"),
    ("-1 < x \\le 4", "(-1,4]", "correct", "mixed double inequality"),
    ("-1 < x \\le 4", "[-1,4]", "wrong", "open vs closed left end"),
    ("2 < x < 5", "(2,5)", "correct", "open double inequality"),
    ("x = 5", "5", "correct", "x = 5 vs 5"),
    ("5", "x=5", "correct", "5 vs x = 5"),
    ("y = 7", "7", "correct", "other variable name"),
    ("x = 5", "6", "wrong", "assignment of wrong number"),
    ("x = 5+5+1 = 11", "11", "correct", "chain takes the last side"),
    ("x = 5+5+1 = 11", "5", "wrong", "chain first side is not the answer"),
    ("\\pi r^2 = 25\\pi", "25\\pi", "correct", "chain last side with pi"),
    ("x \\approx 3.14", "3.14", "correct", "\\approx"),
    ("a = 3", "a=3", "correct", "identical assignments"),
    ("f(2)=9", "9", "correct", "function value assignment"),
    ("x > -3", "x > -3", "correct", "identical inequality"),
    ("x > -3", "x > 3", "wrong", "sign changed in inequality"),
    ("3 < x", "x > 3", "correct", "flipped sides of inequality"),
    ("x \\geq 0", "[0,\\infty)", "correct", "nonnegative interval"),
    ("x \\in [1, 4)", "[1,4)", "correct", "\\in interval"),
    ("x \\in [1, 4)", "[1,4]", "wrong", "\\in interval wrong end"),
    ("y = 2x + 3", "y=2x+3", "correct", "identical line equation"),
    ("y = 2x + 3", "y = 3 + 2x", "correct", "line equation reordered"),
    ("y = 2x + 3", "y = 2x - 3", "wrong", "line equation changed intercept"),
    ("x^2 + y^2 = 25", "x^2+y^2=25", "correct", "circle equation"),
    ("x^2 + y^2 = 25", "x^2+y^2=16", "wrong", "circle radius changed"),
    ("2x - y = 4", "y = 2x - 4", "correct", "equation rearranged"),
    ("k = \\frac{3}{2}", "1.5", "correct", "assignment fraction vs decimal"),
    ("t \\ge \\frac{1}{2}", "[\\frac12, \\infty)", "correct", "inequality with fraction bound"),
    ("x \\geq 2", "x \\geq 2.0", "correct", "same bound decimal"),
]:
    C(R, boxed(p), g, exp, why)

# ---------------- collections ----------------
L = "collections"
for p, g, exp, why in [
    ("x = 1 \\text{ or } x = -4", "-4, 1", "correct", "solution list in any order"),
    ("x=1 \\text{ or } x=-4", "-4,1", "correct", "or-joined assignments"),
    ("-4, 1", "1, -4", "correct", "unordered solution list"),
    ("-4, 1", "1, 4", "wrong", "sign dropped"),
    ("-4, 1", "1", "wrong", "missing a solution"),
    ("1, -4, 2", "-4, 1", "wrong", "extra solution"),
    ("\\pm 3", "3, -3", "correct", "\\pm expands"),
    ("\\pm 3", "3", "wrong", "\\pm is two values"),
    ("x = \\pm\\sqrt{2}", "\\sqrt2, -\\sqrt2", "correct", "\\pm with sqrt"),
    ("1 \\pm \\sqrt{3}", "1+\\sqrt3, 1-\\sqrt3", "correct", "\\pm in a sum"),
    ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}", "correct", "set order"),
    ("\\{1, 2, 3\\}", "\\{1, 2, 4\\}", "wrong", "set element changed"),
    ("\\{1, 2, 3\\}", "1, 2, 3", "correct", "set vs list of solutions"),
    ("(1, 2)", "(2, 1)", "wrong", "tuples stay ordered"),
    ("(1, 2)", "(1,2)", "correct", "tuple spacing"),
    ("(12,102)", "(12,102)", "correct", "thousands rule does not merge a pair"),
    ("(12,102)", "12102", "wrong", "pair is not the number 12102"),
    ("(3, -\\frac{1}{2})", "(3, -0.5)", "correct", "tuple with fraction vs decimal"),
    ("(3, -\\frac{1}{2})", "(-\\frac12, 3)", "wrong", "tuple reordered"),
    ("(1,2,3)", "(1,2,3)", "correct", "triple"),
    ("x=2, y=3", "(2,3)", "correct", "named assignments vs tuple"),
    ("2, 3", "(2,3)", "correct", "bare list vs tuple"),
    ("\\frac{1}{2}, 3", "3, \\frac12", "correct", "solutions order-free with fractions"),
    ("-2,2", "\\pm 2", "correct", "list vs pm"),
    ("1,2,3,4", "1, 2, 3, 4", "correct", "list spacing"),
    ("1,234", "1234", "correct", "thousands separator is one number"),
    ("\\{-1\\}", "-1", "correct", "singleton set vs element"),
    ("\\emptyset", "\\varnothing", "correct", "empty set spellings"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)", "correct", "union of intervals"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(3,\\infty)\\cup(-\\infty,2)", "correct", "union order-free"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2]\\cup(3,\\infty)", "wrong", "union end changed"),
    ("[1,3]", "[1,3)", "wrong", "interval end type"),
    ("(0,1)", "(0,1)", "correct", "open interval"),
    ("a=1,b=-2,c=3", "(1,-2,3)", "correct", "three assignments as a tuple"),
    ("x = 2 \\text{ and } x = 5", "2,5", "correct", "and-joined assignments"),
    ("2 \\text{ and } 5", "5, 2", "correct", "and-joined list order-free"),
    ("3, 5, 7", "3,5,9", "wrong", "list element changed"),
    ("\\sqrt{2}, -\\sqrt{2}", "\\pm\\sqrt2", "correct", "pm sqrt"),
]:
    C(L, boxed(p), g, exp, why)

# ---------------- algebra ----------------
A = "algebra"
alg = [
    ("\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}", "split numerator"),
    ("(x+1)^2", "x^2+2x+1", "expanded square"),
    ("2ab", "2ba", "commutative product"),
    ("\\frac{6}{\\sqrt3}", "2\\sqrt3", "rationalised denominator"),
    ("\\sqrt8", "2\\sqrt2", "surd simplification"),
    ("\\pi/2", "\\frac{\\pi}{2}", "pi over 2 spellings"),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt2}", "1 over root 2"),
    ("\\sqrt{12}", "2\\sqrt{3}", "root 12"),
    ("\\sqrt{50}", "5\\sqrt2", "root 50"),
    ("3\\sqrt{2}+\\sqrt{8}", "5\\sqrt2", "sum of surds"),
    ("\\frac{1}{\\sqrt{3}-1}", "\\frac{\\sqrt3+1}{2}", "conjugate rationalisation"),
    ("x^2-1", "(x-1)(x+1)", "difference of squares"),
    ("(x-2)(x+3)", "x^2+x-6", "factored quadratic"),
    ("2x+4", "2(x+2)", "factored linear"),
    ("\\frac{x^2-1}{x-1}", "x+1", "cancel common factor"),
    ("\\frac{2}{x}+\\frac{1}{x}", "\\frac{3}{x}", "common denominator"),
    ("a^2b", "b a^2", "monomial order"),
    ("4\\pi", "\\pi \\cdot 4", "pi times 4"),
    ("2\\pi r", "2r\\pi", "product order with pi"),
    ("\\frac{3\\pi}{4}", "0.75\\pi", "decimal coefficient of pi"),
    ("e^2", "e\\cdot e", "powers of e"),
    ("\\sqrt{2}\\cdot\\sqrt{3}", "\\sqrt6", "product of roots"),
    ("\\sqrt{\\frac{1}{2}}", "\\frac{\\sqrt2}{2}", "root of a fraction"),
    ("\\frac{\\sqrt{6}}{\\sqrt{2}}", "\\sqrt3", "quotient of roots"),
    ("(\\sqrt3)^2", "3", "square of a root"),
    ("2^{10}", "1024", "power of two"),
    ("\\frac{1}{2^3}", "0.125", "negative power as fraction"),
    ("10^{-2}", "0.01", "power of ten"),
    ("\\frac{a}{b}\\cdot\\frac{b}{c}", "\\frac{a}{c}", "cancellation"),
    ("x(x+1)", "x^2+x", "distribute"),
    ("-(x-3)", "3-x", "negated difference"),
    ("\\frac{-1}{2}", "-\\frac12", "sign placement"),
    ("\\dfrac{10}{4}", "\\frac{5}{2}", "reduce fraction"),
    ("2\\sqrt{2}\\pi", "\\pi\\sqrt8", "pi times surd"),
    ("\\frac{1+\\sqrt{5}}{2}", "\\frac12+\\frac{\\sqrt5}{2}", "golden ratio split"),
    ("3^{\\frac{1}{2}}", "\\sqrt3", "fractional exponent"),
    ("\\sqrt[3]{8}", "2", "cube root"),
    ("27^{1/3}", "3", "cube root as power"),
    ("4^{-1/2}", "\\frac12", "negative fractional power"),
    ("\\frac{x}{2}", "0.5x", "decimal coefficient"),
    ("x^3 - 3x^2 + 3x - 1", "(x-1)^3", "cube expansion"),
    ("\\frac{n(n+1)}{2}", "\\frac{n^2+n}{2}", "triangular number"),
    ("\\frac{2\\sqrt{3}}{3}", "\\frac{2}{\\sqrt3}", "rationalised 2 over root 3"),
    ("\\sqrt{3}+\\sqrt{3}", "2\\sqrt3", "like surds add"),
    ("100\\sqrt{2}", "\\sqrt{20000}", "large radicand"),
    ("\\frac{\\pi}{6}", "\\frac{1}{6}\\pi", "pi coefficient placement"),
    ("6\\sqrt{2}-2", "-2+6\\sqrt2", "sum order"),
    ("\\frac{5\\sqrt{3}}{2}", "\\frac{5}{2}\\sqrt{3}", "coefficient placement"),
    ("\\sqrt{75}", "5\\sqrt{3}", "root 75"),
    ("i^2", "-1", "imaginary unit squared"),
    ("(1+i)^2", "2i", "complex square"),
    ("\\frac{1}{i}", "-i", "reciprocal of i"),
    ("3-4i", "-4i+3", "complex order"),
]
bad = {  # a same-shape wrong variant for each pair (changed number)
    0: "\\frac{x+3}{7}", 1: "x^2+x+1", 2: "3ab", 3: "3\\sqrt3", 4: "2\\sqrt3", 5: "\\frac{\\pi}{3}",
    6: "\\frac{\\sqrt3}{2}", 7: "3\\sqrt2", 8: "5\\sqrt3", 9: "4\\sqrt2", 10: "\\frac{\\sqrt3-1}{2}",
    11: "(x-1)^2", 12: "x^2-x-6", 13: "2(x+4)", 14: "x-1", 15: "\\frac{2}{x}", 16: "ab^2", 17: "2\\pi",
    18: "\\pi r", 19: "\\frac{\\pi}{4}", 20: "2e", 21: "\\sqrt5", 22: "\\frac{\\sqrt3}{2}", 23: "\\sqrt2",
    24: "9", 25: "1000", 26: "0.25", 27: "0.1", 28: "\\frac{b}{c}", 29: "x^2+1", 30: "x-3", 31: "\\frac12",
    32: "\\frac{5}{4}", 33: "\\pi\\sqrt2", 34: "\\frac{1+\\sqrt3}{2}", 35: "\\sqrt2", 36: "3", 37: "9",
    38: "2", 39: "2x", 40: "(x+1)^3", 41: "\\frac{n^2-n}{2}", 42: "\\frac{3}{\\sqrt2}", 43: "3\\sqrt3",
    44: "\\sqrt{2000}", 45: "\\frac{\\pi}{3}", 46: "6\\sqrt2+2", 47: "\\frac{3}{2}\\sqrt3", 48: "5\\sqrt5",
    49: "1", 50: "2", 51: "i", 52: "3+4i",
}
for k, (p, g, why) in enumerate(alg):
    C(A, boxed(p), g, "correct", why)
    C(A, boxed(g), p, "correct", why + " (reversed)")
    C(A, boxed(bad[k]), g, "wrong", why + ": changed value")

# ---------------- forms ----------------
F = "forms"
for p, g, exp, why in [
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "correct", "pmatrix vector spacing"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}", "wrong", "vector entries swapped"),
    ("\\begin{pmatrix} \\frac{1}{2} \\\\ -3 \\end{pmatrix}", "\\begin{pmatrix}0.5\\\\-3\\end{pmatrix}", "correct", "vector entry-wise fraction vs decimal"),
    ("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "correct", "bmatrix vs pmatrix"),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix}1&3\\\\2&4\\end{pmatrix}", "wrong", "transposed matrix"),
    ("\\left(\\begin{array}{cc} 2 & 0 \\\\ 0 & 2 \\end{array}\\right)", "\\begin{pmatrix}2&0\\\\0&2\\end{pmatrix}", "correct", "array matrix"),
    ("\\begin{pmatrix} \\sqrt{8} \\\\ 1 \\end{pmatrix}", "\\begin{pmatrix}2\\sqrt2\\\\1\\end{pmatrix}", "correct", "entry-wise surd"),
    ("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "wrong", "row vs column vector"),
    ("\\text{Evelyn}", "\\text{Evelyn}", "correct", "text answer"),
    ("\\text{Evelyn}", "Evelyn", "correct", "text vs plain word"),
    ("\\text{Evelyn}", "\\text{Emily}", "wrong", "different names"),
    ("\\textbf{(C)}", "C", "correct", "bold choice letter"),
    ("\\textbf{(C)}", "\\text{(C)}", "correct", "bold vs text choice"),
    ("\\textbf{(C)}", "D", "wrong", "different choice letter"),
    ("(C)", "\\text{(C)}", "correct", "choice in parentheses"),
    ("\\text{(A)}\\ 12", "A", "correct", "choice letter followed by its value"),
    ("60^\\circ", "60", "correct", "degrees"),
    ("60^{\\circ}", "60^\\circ", "correct", "degrees braces"),
    ("60^\\circ", "50", "wrong", "different angle"),
    ("2.5 \\times 10^{3}", "2500", "correct", "scientific times"),
    ("2.5 \\times 10^{-3}", "0.0025", "correct", "scientific negative exponent"),
    ("2.5 \\times 10^{3}", "250", "wrong", "scientific wrong exponent"),
    ("1{,}250", "1250", "correct", "brace thousands separator"),
    ("1\\,000\\,000", "1000000", "correct", "thin space thousands"),
    ("1\\,000\\,000", "100000", "wrong", "thin space thousands, missing zero"),
    ("50\\text{ cm}", "50", "correct", "unit inside text"),
    ("50\\text{ cm}^2", "50", "correct", "unit squared inside text"),
    ("12\\text{ inches}", "12", "correct", "unit word inside text"),
    ("\\$18.90", "18.90", "correct", "dollar sign"),
    ("\\$18.90", "18.9", "correct", "dollar sign, trailing zero"),
    ("12:00", "12:00", "correct", "clock time"),
    ("12:00", "12", "wrong", "clock time is not 12"),
    ("3{,}5", "3.5", "correct", "unambiguous decimal comma with braces"),
    ("5\\%", "5", "correct", "percent drop convention"),
    ("\\frac{1}{4}\\text{ of the pie}", "\\frac14", "correct", "trailing text after number"),
    ("\\text{odd}", "\\text{odd}", "correct", "word answer"),
    ("\\text{odd}", "\\text{even}", "wrong", "different word"),
    ("\\text{neither}", "\\text{Neither}", "correct", "case-insensitive word"),
    ("90^\\circ", "\\frac{\\pi}{2}", "wrong", "degrees are not radians without a unit"),
    ("4\\text{ units}^2", "4", "correct", "area units"),
    ("\\mathrm{(E)}", "E", "correct", "mathrm choice"),
    ("24\\text{ square feet}", "24", "correct", "text unit phrase"),
    ("\\text{5 dollars}", "5", "correct", "number inside text"),
    ("7.5\\text{ m}", "7.5", "correct", "single-letter unit inside text"),
    ("\\frac{9}{2} \\text{ hours}", "4.5", "correct", "fraction with unit"),
]:
    C(F, boxed(p), g, exp, why)

# ---------------- exactness ----------------
X = "exactness"
for p, g, exp, why in [
    ("0.333", "\\frac13", "wrong", "a truncated decimal is not exactly 1/3"),
    ("0.3333333", "\\frac{1}{3}", "wrong", "long decimal still not exact"),
    ("\\frac{1}{3}", "\\frac{2}{6}", "correct", "equivalent fractions"),
    ("0.5", "\\frac{1}{2}", "correct", "terminating decimal equals fraction"),
    ("0.125", "\\frac18", "correct", "exact decimal"),
    ("1.41", "\\sqrt2", "wrong", "rounded root is not exact"),
    ("3.14", "\\pi", "wrong", "rounded pi is not pi"),
    ("1.4142135623730951", "\\sqrt2", "correct", "full double precision of root 2"),
    ("2.0", "2", "correct", "trailing zero"),
    ("-0", "0", "correct", "negative zero"),
    ("\\frac{4}{2}", "2", "correct", "integer fraction"),
    ("\\frac{22}{7}", "\\pi", "wrong", "22/7 is not pi"),
    ("1000000", "10^6", "correct", "power of ten"),
    ("10000001", "10^7", "wrong", "off by one large number"),
    ("\\frac{1}{7}", "0.142857", "wrong", "repeating decimal truncated"),
    ("0.1", "\\frac{1}{10}", "correct", "tenth"),
    ("2.5", "\\frac52", "correct", "five halves"),
    ("2.5", "\\frac72", "wrong", "changed numerator"),
    ("\\sqrt{2}+1", "2.414", "wrong", "rounded irrational"),
    ("12345678901234567890", "12345678901234567890", "correct", "big integers"),
    ("12345678901234567890", "12345678901234567891", "wrong", "big integers differ in last digit"),
    ("\\frac{123456789}{987654321}", "\\frac{13717421}{109739369}", "correct", "big fraction reduced"),
    ("6.02\\times10^{23}", "602000000000000000000000", "correct", "scientific exact"),
    ("1e-3", "0.001", "correct", "e notation"),
]:
    C(X, boxed(p), g, exp, why)

# ---------------- GSM8K style (no regression) ----------------
G = "gsm8k"
gsm = [
    ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72", "72", "correct", "gsm8k marker"),
    ("She sold 48 in April and 24 in May, so 72 in total.\n#### 72", "73", "wrong", "gsm8k marker wrong"),
    ("Weng earns 12/60 = $0.2 per minute. For 50 minutes she earns 0.2 x 50 = $10.\n#### 10", "10", "correct", "dollars"),
    ("Betty has 100/2 = $50. Her grandparents give 15*2 = $30. She needs 100-50-30-15 = $5 more.\nThe answer is 5.", "5", "correct", "answer is sentence"),
    ("Betty needs $5 more. The answer is $5.", "5", "correct", "answer is with dollar"),
    ("He reads 12 pages today and 24 tomorrow; remaining 84 pages, half is 42 pages.\nThe answer is 42.", "42", "correct", "answer is"),
    ("So he writes 3*2*52 = 624 pages a year.", "624", "correct", "last number"),
    ("So he writes 3*2*52 = 624 pages a year.", "52", "wrong", "last number wrong"),
    ("The total cost is $1,250.", "1250", "correct", "thousands comma"),
    ("The total cost is $1,250.50.", "1250.5", "correct", "thousands comma decimal"),
    ("The total is 1,250 dollars", "1250", "correct", "thousands words"),
    ("There are 7 apples and 3 oranges, so 10 fruits.", "10", "correct", "last number"),
    ("Total = 45 + 30 = 75 minutes\n#### 75", "75", "correct", "gsm8k with unit"),
    ("The answer is 18 dollars.", "18", "correct", "unit after answer"),
    ("The answer is 18 dollars.", "19", "wrong", "wrong with unit"),
    ("She has 20% left, which is 8 cookies. The answer is 8", "8", "correct", "percent in text"),
    ("The discount is 25%. The answer is 25%", "25", "correct", "percent answer"),
    ("The answer is -3", "-3", "correct", "negative"),
    ("The answer is -3", "3", "wrong", "sign matters"),
    ("The temperature dropped to -3 degrees. The answer is 3", "-3", "wrong", "sign matters (answer is)"),
    ("The answer is 0.5", "1/2", "correct", "decimal vs slash fraction"),
    ("He needs 2 1/2 cups. The answer is 2 1/2", "2.5", "correct", "mixed number"),
    ("He needs 2 1/2 cups. The answer is 2 1/2", "3", "wrong", "mixed number wrong"),
    ("The answer is 1,000,000", "1000000", "correct", "millions separator"),
    ("The answer is 3 hours and 20 minutes, i.e. 200 minutes. #### 200", "200", "correct", "gsm8k marker inline"),
    ("The answer is 12.", "12.0", "correct", "trailing .0 in gold"),
    ("She paid $3.50 for each, so 4 x 3.50 = $14.\n#### 14", "14.00", "correct", "gold with cents"),
    ("So there were 5 friends, and each got 6 candies.\nThe answer is 6", "5", "wrong", "distractor number"),
    ("The answer is $\\boxed{18}$", "18", "correct", "boxed in gsm8k"),
    ("The final answer is 70,000", "70000", "correct", "final answer thousands"),
    ("The final answer is 70,000", "70", "wrong", "thousands not truncated"),
    ("James runs 3 sprints 3 times a week, 60 m each: 3*3*60 = 540 meters.\n#### 540", "540", "correct", "gsm8k"),
    ("Answer: 16", "16", "correct", "answer label"),
    ("Answer: 16", "61", "wrong", "answer label wrong"),
    ("It takes 2 + 2/2 = 3 bolts. The answer is 3.", "3", "correct", "answer is after arithmetic"),
    ("Total: 5 * 4 = 20. So the answer is 20 cookies.", "20", "correct", "answer is with word"),
    ("I'm not sure.", "20", "wrong", "no number"),
    ("The profit is $70,000 - $50,000 = $20,000.\n#### 20000", "20000", "correct", "gsm8k profit"),
    ("Kylar buys 16 glasses: 8*5 + 8*3 = $64.\n#### 64", "64", "correct", "gsm8k"),
    ("Toulouse has 2*20=40 sheep, Charleston 4*20=80, total 20+40+80=140.\n#### 140", "140", "correct", "gsm8k"),
    ("Carla downloads 200*0.4=80 GB, ... total 160 minutes.\n#### 160", "160", "correct", "gsm8k"),
    ("John drives 3*60=180 miles. #### 180 miles", "180", "correct", "gsm8k with unit"),
    ("Eliza earns 400 + 60 = $460.\nThe answer is $460", "460", "correct", "dollar answer"),
    ("The answer is 7 and 1/2 hours", "7.5", "correct", "spoken mixed number"),
    ("The answer is 1.5 hours", "1.5", "correct", "decimal hours"),
    ("So the ratio is 3:2.", "3", "wrong", "ratio is not its first part"),
    ("He has 4 dogs. Each dog eats 2 lbs. So 8 lbs a day.", "8", "correct", "last number with unit"),
    ("She is 12 years old now. In 5 years she will be 17.", "17", "correct", "last number"),
    ("She is 12 years old now. In 5 years she will be 17.", "12", "wrong", "earlier number"),
    ("The result is 0.75, or 75%.", "75", "correct", "percent last"),
]
for r, g, e, why in gsm:
    C(G, r, g, e, why)

# ---------------- unverifiable gold ----------------
U = "unverifiable"
C(U, "The answer is 5", "", "unverifiable", "empty gold")
C(U, "The answer is 5", "\\boxed{", "unverifiable", "unclosed gold box")
C(U, "The answer is 5", "Solution: no boxed answer and $\\boxed{}$", "unverifiable", "empty gold box")

for i, c in enumerate(cases):
    c["id"] = f"{c['category']}-{i:03d}"
with open(sys.argv[1], "w") as f:
    for c in cases:
        f.write(json.dumps({k: c[k] for k in ("id", "category", "rationale", "gold", "expected", "reason")}, ensure_ascii=False) + "\n")
print(len(cases), Counter(c["category"] for c in cases))
